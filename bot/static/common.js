// What both extension pages share: the catalogue's words for this page, Chaster's token from
// the address's # part, and a call to the page's backend.
(function () {
  "use strict";
  var strings = JSON.parse(document.getElementById("strings").textContent);

  window.TasksPage = {
    settings: JSON.parse(document.getElementById("settings").textContent),

    // The message `key` with its {placeholders} filled in.
    t: function (key, params) {
      var text = strings[key] || key;
      Object.keys(params || {}).forEach(function (name) {
        text = text.split("{" + name + "}").join(String(params[name]));
      });
      return text;
    },

    // Chaster opens the page at <url>#<URI-encoded JSON>; null when there is no such token.
    hashToken: function (name) {
      try {
        var raw = window.location.hash.substring(1);
        if (!raw) return null;
        var value = JSON.parse(decodeURIComponent(raw));
        return value && typeof value[name] === "string" ? value[name] : null;
      } catch (error) {
        return null;
      }
    },

    // POST JSON to the backend: resolves to {ok, body} (body null when not JSON).
    post: function (path, body) {
      return fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      }).then(function (response) {
        return response.json().then(
          function (answer) { return { ok: response.ok, body: answer }; },
          function () { return { ok: false, body: null }; }
        );
      });
    },
  };
})();
