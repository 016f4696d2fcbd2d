// Sends the form again from this site's own page, so the browser attaches the session cookie
// it left off the cross-site POST that brought the person here (SameSite=Lax).
(function () {
  var form = document.getElementById("repost");
  if (form) {
    form.submit();
  }
})();
