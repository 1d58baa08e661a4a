/*
 * WebAuthn ceremonies of the portal, started only by a button press (Safari refuses
 * WebAuthn without a user gesture).
 *
 * A button with data-webauthn="get" (an assertion: sign-in, step-up, identify) or
 * "create" (a registration) and data-options-url / data-verify-url runs one ceremony:
 * POST options (JSON, X-CSRFToken) -> navigator.credentials -> POST the credential's
 * toJSON() -> follow {"redirect"} or show {"message"}. Optional attributes:
 * data-number-input (a selector: its value is sent as customer_number), data-status
 * (where messages go), data-form (a selector: an approval of that form's action; its
 * fields go as {"form": {...}} with the options request and as {"form", "credential"}
 * with the verify request; field errors {"errors": {name: text}} of a 422 land in the
 * form's [data-error-for=name] elements). An options answer's "summary" (what the key
 * approves) is shown while the key is asked. Translated messages come from data-msg-* attributes of
 * #webauthn-messages. A successful ceremony without a redirect dispatches
 * "webauthn:done" on the button with the server's answer in event.detail.
 */
(function () {
  "use strict";

  var messages = {};

  function readMessages() {
    var holder = document.getElementById("webauthn-messages");
    if (!holder) return;
    Object.keys(holder.dataset).forEach(function (name) {
      if (name.indexOf("msg") === 0) messages[name.slice(3).toLowerCase()] = holder.dataset[name];
    });
  }

  function text(name) {
    return messages[name] || messages.failed || name;
  }

  /* base64url <-> ArrayBuffer, for browsers without parse*FromJSON / toJSON. */
  function toBuffer(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      var copy = Object.assign({}, item);
      copy.id = toBuffer(item.id);
      return copy;
    });
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    options.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    options.excludeCredentials = descriptors(json.excludeCredentials);
    return options;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = toBuffer(json.challenge);
    if (json.allowCredentials) options.allowCredentials = descriptors(json.allowCredentials);
    return options;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) out.response.transports = response.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) out.response.userHandle = toBase64url(response.userHandle);
    }
    return out;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken()
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(
        function (data) { return { ok: response.ok, status: response.status, data: data }; },
        function () { return { ok: false, status: response.status, data: {} }; }
      );
    });
  }

  function ServerError(data) {
    this.data = data;
  }

  function browserMessage(error, kind) {
    if (error instanceof ServerError) {
      return error.data.message || text("failed");
    }
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "AbortError") return text("cancelled");
    if (name === "InvalidStateError") {
      return kind === "create" ? text("registered") : text("unknown");
    }
    if (name === "SecurityError") return text("insecure");
    if (name === "NotSupportedError") return text("unsupported");
    if (error instanceof TypeError) return text("network");
    return text("failed");
  }

  function show(target, message, kind) {
    if (!target) return;
    target.textContent = message;
    target.className = "alert alert--" + kind;
    target.hidden = !message;
  }

  function formFields(form) {
    var fields = {};
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string" && name !== "csrf_token") fields[name] = value;
    });
    return fields;
  }

  function showFieldErrors(form, errors) {
    if (!form) return;
    Array.prototype.forEach.call(form.querySelectorAll("[data-error-for]"), function (slot) {
      var message = (errors || {})[slot.dataset.errorFor];
      slot.textContent = message || "";
      slot.hidden = !message;
    });
  }

  /* Follow a redirect; to this very page (perhaps another #anchor) reload it, which a
     change of the hash alone would not do, so that its new state and message show. */
  function go(url) {
    var target = new URL(url, window.location.href);
    var here = window.location;
    if (target.pathname === here.pathname && target.search === here.search) {
      if (target.hash) here.hash = target.hash;
      here.reload();
      return;
    }
    here.assign(target.href);
  }

  function run(button) {
    var kind = button.dataset.webauthn;
    var status = document.querySelector(button.dataset.status || "#webauthn-status");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(status, text("unsupported"), "error");
      return;
    }
    var body = {};
    var form = button.dataset.form ? document.querySelector(button.dataset.form) : null;
    if (form) body.form = formFields(form);
    showFieldErrors(form, {});
    if (button.dataset.numberInput) {
      var input = document.querySelector(button.dataset.numberInput);
      var number = input ? input.value.trim() : "";
      if (!number) {
        show(status, text("number"), "error");
        if (input) input.focus();
        return;
      }
      body.customer_number = number;
    }
    button.disabled = true;
    show(status, text("working"), "info");
    post(button.dataset.optionsUrl, body)
      .then(function (answer) {
        if (!answer.ok) throw new ServerError(answer.data);
        if (answer.data.summary) show(status, answer.data.summary + " — " + text("working"), "info");
        var publicKey = answer.data.publicKey;
        if (kind === "create") {
          return navigator.credentials.create({ publicKey: creationOptions(publicKey) });
        }
        return navigator.credentials.get({ publicKey: requestOptions(publicKey) });
      })
      .then(function (credential) {
        var json = credentialJSON(credential);
        return post(button.dataset.verifyUrl, form ? { form: body.form, credential: json } : json);
      })
      .then(function (answer) {
        if (!answer.ok) throw new ServerError(answer.data);
        if (answer.data.redirect) {
          go(answer.data.redirect);
          return;
        }
        show(status, answer.data.message || "", "success");
        button.disabled = false;
        button.dispatchEvent(new CustomEvent("webauthn:done", { bubbles: true, detail: answer.data }));
      })
      .catch(function (error) {
        if (error instanceof ServerError) showFieldErrors(form, error.data.errors);
        show(status, browserMessage(error, kind), "error");
        button.disabled = false;
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    readMessages();
    var buttons = document.querySelectorAll("[data-webauthn]");
    if (!window.PublicKeyCredential) {
      var status = document.querySelector("#webauthn-status");
      show(status, text("unsupported"), "warning");
    }
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        run(button);
      });
      /* The page renders these buttons disabled: a press before this script ran would do
         nothing, silently. Without WebAuthn they stay disabled beside the warning. */
      if (window.PublicKeyCredential) button.disabled = false;
    });
    /* Enter in the customer-number field presses its button (still a user gesture). */
    Array.prototype.forEach.call(document.querySelectorAll("[data-submits]"), function (input) {
      input.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          var target = document.querySelector(input.dataset.submits);
          if (target) target.click();
        }
      });
    });
  });
})();
