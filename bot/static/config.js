// The extension's configuration page, inside Chaster's modal: the defaults a link to this lock
// starts with. Chaster's modal asks it to save through postMessage (all messages are JSON
// strings); the bot's backend checks every value before Chaster stores it.
(function () {
  "use strict";
  var page = window.TasksPage;
  var t = page.t;
  var settings = page.settings;
  var app = document.getElementById("app");
  var ACTIONS = ["none", "add_time", "freeze", "pillory"];
  var token = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function tell(event) {
    if (window.parent === window) return;
    var message = JSON.stringify({ type: "partner_configuration", event: event,
      payload: event === "capabilities" ? { features: { save: true } } : undefined });
    settings.parentOrigins.forEach(function (origin) { window.parent.postMessage(message, origin); });
  }

  function status(text, kind) {
    var node = document.getElementById("status");
    node.textContent = text;
    node.className = "status " + (kind || "");
    node.setAttribute("role", kind === "error" ? "alert" : "status");
  }

  function span(seconds) {
    if (!seconds) return "";
    if (seconds % 86400 === 0) return seconds / 86400 + "d";
    if (seconds % 3600 === 0) return seconds / 3600 + "h";
    if (seconds % 60 === 0) return seconds / 60 + "m";
    return seconds + "s";
  }

  function field(label, input, hint) {
    var box = el("div");
    input.id = input.id || input.name;
    box.appendChild(el("label", { for: input.id }, label));
    box.appendChild(input);
    if (hint) box.appendChild(el("p", { class: "hint" }, hint));
    return box;
  }

  function select(name, options, value) {
    var node = el("select", { name: name });
    options.forEach(function (option) {
      var item = el("option", { value: option[0] }, option[1]);
      if (option[0] === value) item.selected = true;
      node.appendChild(item);
    });
    return node;
  }

  function penalty(key, heading, value) {
    var box = el("fieldset", { id: key });
    box.appendChild(el("legend", null, heading));
    box.appendChild(field(t("config-page.action"), select(key + "-action",
      ACTIONS.map(function (name) { return [name, t("config-page.action." + name)]; }), value.action)));
    box.appendChild(field(t("config-page.amount"), el("input", { name: key + "-amount", type: "text",
      value: span(value.seconds), autocomplete: "off" }), t("config-page.amount-hint")));
    box.appendChild(field(t("config-page.reason"), el("input", { name: key + "-reason", type: "text",
      value: value.reason || "", maxlength: "200", autocomplete: "off" })));
    return box;
  }

  function render(form) {
    app.textContent = "";
    app.appendChild(el("h1", null, t("config-page.title")));
    app.appendChild(el("p", { class: "muted" }, t("config-page.intro")));
    var body = el("form", { id: "defaults", novalidate: "" });
    body.appendChild(field(t("config-page.wearer-can-complete"), select("wearerCanComplete", [
      ["server", t("config-page.choice.server")], ["yes", t("config-page.choice.yes")],
      ["no", t("config-page.choice.no")]], form.wearerCanComplete)));
    body.appendChild(field(t("config-page.deadline"), el("input", { name: "deadline", type: "text",
      value: span(form.deadlineSeconds), autocomplete: "off" }), t("config-page.deadline-hint")));
    body.appendChild(penalty("onFail", t("config-page.on-fail"), form.onFail));
    body.appendChild(penalty("onDeadline", t("config-page.on-deadline"), form.onDeadline));
    body.addEventListener("submit", function (event) { event.preventDefault(); save(); });
    app.appendChild(body);
    var line = el("p", { id: "status", class: "status", role: "status" }, "");
    app.appendChild(line);
    if (window.parent === window) {
      var button = el("button", { type: "button", id: "save" }, t("config-page.save"));
      button.addEventListener("click", save);
      app.appendChild(button);
    }
  }

  function value(name) {
    return document.querySelector("[name='" + name + "']").value;
  }

  function chosen() {
    function penaltyOf(key) {
      return { action: value(key + "-action"), amount: value(key + "-amount"), reason: value(key + "-reason") };
    }
    return { wearerCanComplete: value("wearerCanComplete"), deadline: value("deadline"),
      onFail: penaltyOf("onFail"), onDeadline: penaltyOf("onDeadline") };
  }

  function save() {
    tell("save_loading");
    status(t("config-page.saving"));
    Array.prototype.forEach.call(document.querySelectorAll(".invalid"), function (node) {
      node.classList.remove("invalid");
    });
    page.post("config/save", { partnerConfigurationToken: token, form: chosen() })
      .then(function (answer) {
        if (answer.ok) {
          status(t("config-page.saved"), "ok");
          tell("save_success");
          return;
        }
        var box = answer.body && answer.body.field && document.getElementById(answer.body.field);
        if (box) box.classList.add("invalid");
        status((answer.body && answer.body.message) || t("page.chaster-unavailable"), "error");
        tell("save_failed");
      })
      .catch(function () {
        status(t("page.chaster-unavailable"), "error");
        tell("save_failed");
      });
  }

  window.addEventListener("message", function (event) {
    if (settings.parentOrigins.indexOf(event.origin) === -1 || typeof event.data !== "string") return;
    var message;
    try { message = JSON.parse(event.data); } catch (error) { return; }
    if (message && message.type === "chaster" && message.event === "partner_configuration_save") {
      if (token && document.getElementById("defaults")) save();
      else tell("save_failed");
    }
  });

  token = page.hashToken("partnerConfigurationToken");
  if (!token) {
    app.textContent = "";
    app.appendChild(el("p", { id: "status", class: "status error", role: "alert" }, t("page.token-invalid")));
    return;
  }
  page.post("config/state", { partnerConfigurationToken: token })
    .then(function (answer) {
      if (!answer.ok) {
        app.textContent = "";
        app.appendChild(el("p", { id: "status", class: "status error", role: "alert" },
          (answer.body && answer.body.message) || t("page.chaster-unavailable")));
        return;
      }
      render(answer.body.form);
      tell("capabilities");
    })
    .catch(function () {
      app.textContent = "";
      app.appendChild(el("p", { id: "status", class: "status error", role: "alert" }, t("page.chaster-unavailable")));
    });
})();
