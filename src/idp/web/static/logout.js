// Moves on from the front-channel logout page even when an RP's iframe never finishes
// loading: Chromium starts a meta refresh only after every frame has loaded.
(function () {
  var script = document.currentScript;
  var destination = script.getAttribute("data-destination");
  var wait = Number(script.getAttribute("data-wait")) || 3;
  window.setTimeout(function () { window.location.replace(destination); }, wait * 1000);
})();
