// "Confirm with a qualified e-signature" (/account/confirm): ask the REST API for a challenge,
// show its text, take the signature (pasted, or read from a file: PEM/base64 text or DER
// bytes), submit it, and say the outcome in words. The messages come from the page itself
// (#qes-messages, one per refusal code), so the script carries no text of its own.
(function () {
  "use strict";
  var app = document.getElementById("qes-app");
  if (!app || !window.fetch) {
    return;
  }
  app.hidden = false;
  var result = document.getElementById("qes-result");
  var challengeBox = document.getElementById("challenge");
  var challengeText = document.getElementById("challenge-text");
  var challengeExpires = document.getElementById("challenge-expires");
  var challengeId = document.getElementById("challenge-id");
  var signature = document.getElementById("signature");
  var file = document.getElementById("signature-file");
  var form = document.getElementById("qes-form");
  var devSign = document.getElementById("dev-sign");
  var csrf = null;

  function message(code) {
    var item = document.querySelector('#qes-messages li[data-code="' + code + '"]');
    if (!item) {
      item = document.querySelector('#qes-messages li[data-code="generic"]');
    }
    return item ? item.textContent : code;
  }

  function say(text, kind) {
    result.textContent = "";
    var p = document.createElement("p");
    p.className = kind;
    p.textContent = text;
    result.appendChild(p);
  }

  // The words for a problem+json answer: the refusal's code, else its type's last part.
  function refusal(problem) {
    var code = problem.code;
    if (!code && problem.type) {
      code = String(problem.type).split("/").pop();
    }
    var text = message(code || "generic");
    if (code === "identity-mismatch" && problem.fields) {
      text = problem.fields.map(function (f) {
        return message("identity-mismatch-" + f);
      }).join(" ");
    }
    return text;
  }

  function token() {
    if (csrf) {
      return Promise.resolve(csrf);
    }
    return window.fetch("/api/v1/me/csrf", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) { csrf = body.csrf_token; return csrf; });
  }

  function post(path, body) {
    return token().then(function (t) {
      return window.fetch(path, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": t },
        body: JSON.stringify(body),
      });
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        return { ok: r.ok, status: r.status, body: body };
      });
    });
  }

  function failed() {
    say(message("generic"), "error");
  }

  document.getElementById("get-challenge").addEventListener("click", function () {
    post("/api/v1/me/qes/challenges", {}).then(function (answer) {
      if (!answer.ok) {
        say(refusal(answer.body), "error");
        return;
      }
      challengeId.value = answer.body.id;
      challengeText.textContent = answer.body.content;
      var when = new Date(answer.body.expires_at);
      challengeExpires.textContent = challengeExpires.getAttribute("data-template")
        .replace("{time}", when.toLocaleTimeString());
      challengeBox.hidden = false;
      signature.value = "";
      result.textContent = "";
      challengeText.focus();
    }, failed);
  });

  // A file: PEM or base64 text as it is, DER bytes as base64.
  file.addEventListener("change", function () {
    var chosen = file.files && file.files[0];
    if (!chosen) {
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      var bytes = new Uint8Array(reader.result);
      if (bytes.length && bytes[0] === 0x30) {
        var binary = "";
        for (var i = 0; i < bytes.length; i++) {
          binary += String.fromCharCode(bytes[i]);
        }
        signature.value = window.btoa(binary);
      } else {
        signature.value = new TextDecoder().decode(bytes);
      }
    };
    reader.readAsArrayBuffer(chosen);
  });

  if (devSign) {
    devSign.addEventListener("click", function () {
      if (!challengeId.value) {
        say(message("no-such-challenge"), "error");
        return;
      }
      post("/api/v1/me/qes/dev-signature", { challenge_id: challengeId.value }).then(
        function (answer) {
          if (!answer.ok) {
            say(refusal(answer.body), "error");
            return;
          }
          signature.value = answer.body.signature;
        },
        failed
      );
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!challengeId.value) {
      say(message("no-such-challenge"), "error");
      return;
    }
    if (!signature.value.trim()) {
      say(message("malformed"), "error");
      signature.focus();
      return;
    }
    post("/api/v1/me/qes/confirmations", {
      challenge_id: challengeId.value,
      signature: signature.value,
    }).then(function (answer) {
      if (!answer.ok) {
        say(refusal(answer.body), "error");
        return;
      }
      say(message("confirmed"), "success");
      app.hidden = true;
      var level = document.getElementById("level");
      if (level) {
        level.setAttribute("data-level", "confirmed");
        level.textContent = message("level-confirmed");
      }
    }, failed);
  });
})();
