// The phone page's "send again" countdown. Without JavaScript the page already shows the
// seconds left (rendered by the server) and the button stays disabled until a reload;
// with it, the count runs live and the button comes on by itself.
(function () {
  "use strict";
  var wait = document.getElementById("resend-wait");
  var ready = document.getElementById("resend-ready");
  var button = document.getElementById("resend-button");
  if (!wait || !button) {
    return;
  }
  var seconds = parseInt(wait.getAttribute("data-seconds"), 10);
  if (!(seconds > 0)) {
    return;
  }
  var template = wait.getAttribute("data-template") || "{seconds}";
  var deadline = Date.now() + seconds * 1000;
  function tick() {
    var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    if (left > 0) {
      wait.textContent = template.replace("{seconds}", String(left));
      window.setTimeout(tick, 250);
      return;
    }
    wait.hidden = true;
    button.disabled = false;
    button.removeAttribute("aria-describedby");
    if (ready) {
      // One announcement when it is time, not one per second.
      ready.textContent = ready.getAttribute("data-text") || "";
    }
  }
  tick();
})();
