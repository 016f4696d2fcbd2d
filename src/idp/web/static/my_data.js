// "My data": while registry checks are open, fetch the page again now and then and put the
// new progress section in place of the old one. Without JavaScript the page already says the
// checks are running and offers a "Refresh" link; this only saves the click.
//
// Every fetch counts as activity of the session, so the script stops looking data-stop-after
// seconds (ten minutes) after the page loaded and shows #refresh-stopped: a page left open
// must not keep its session alive past the idle timeout.
//
// The section is an aria-live="polite" region: only the parts that changed are replaced, so a
// screen reader hears the check whose state moved, not the whole section again.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || section.getAttribute("data-open") !== "yes" || !window.fetch) {
    return;
  }
  var every = parseFloat(section.getAttribute("data-every")) || 3;
  var delay = every;
  var longest = 30;
  var started = Date.now();
  var stopAfter = (parseFloat(section.getAttribute("data-stop-after")) || 600) * 1000;

  // Schedule the next look, or stop for good once the time is up.
  function later(seconds) {
    if (Date.now() + seconds * 1000 - started >= stopAfter) {
      var stopped = document.getElementById("refresh-stopped");
      if (stopped) {
        window.setTimeout(function () {
          if (section.getAttribute("data-open") === "yes") {
            stopped.hidden = false;
          }
        }, Math.max(0, stopAfter - (Date.now() - started)));
      }
      return;
    }
    window.setTimeout(look, seconds * 1000);
  }

  // The parts replaced one by one: the section's children (the list of checks aside) and
  // each check.
  var PARTS = ":scope > [id]:not(#checks), #checks > li[id]";

  function ids(root) {
    return Array.prototype.map.call(root.querySelectorAll(PARTS), function (el) {
      return el.id;
    }).join(" ");
  }

  function swap(fresh) {
    if (ids(section) !== ids(fresh)) {
      section.innerHTML = fresh.innerHTML;
    } else {
      var old = section.querySelectorAll(PARTS);
      var now = fresh.querySelectorAll(PARTS);
      for (var i = 0; i < old.length; i++) {
        if (old[i].outerHTML !== now[i].outerHTML) {
          old[i].replaceWith(document.importNode(now[i], true));
        }
      }
    }
    section.setAttribute("data-open", fresh.getAttribute("data-open") || "no");
  }

  function look() {
    if (document.hidden) {
      later(every);
      return;
    }
    window
      .fetch(window.location.pathname, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
        cache: "no-store",
      })
      .then(function (response) {
        // A login or a re-authentication in between: stop; the Refresh link still works.
        if (!response.ok || response.redirected) {
          return null;
        }
        return response.text();
      })
      .then(function (text) {
        if (text === null) {
          return;
        }
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("progress");
        if (!fresh) {
          return;
        }
        swap(fresh);
        if (section.getAttribute("data-open") === "yes") {
          delay = Math.min(longest, delay * 1.25);
          later(delay);
        }
      })
      .catch(function () {
        delay = Math.min(longest, delay * 2);
        later(delay);
      });
  }

  later(delay);
})();
