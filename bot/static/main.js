// The extension's main page: what the lock's wearer or keyholder sees inside Chaster.
// Everything shown comes from the bot's backend, which is given only Chaster's token; text
// from people (task descriptions, lock and server names) is set as text, never as markup.
(function () {
  "use strict";
  var page = window.TasksPage;
  var t = page.t;
  var app = document.getElementById("app");
  var lang = document.documentElement.lang;
  var when = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function at(iso) {
    return when.format(new Date(iso));
  }

  function showStatus(text, kind) {
    app.textContent = "";
    var status = el("p", "status " + (kind || ""), text);
    status.id = "status";
    status.setAttribute("role", kind === "error" ? "alert" : "status");
    app.appendChild(status);
  }

  function section(id, heading) {
    var node = el("section");
    node.id = id;
    if (heading) node.appendChild(el("h2", null, heading));
    app.appendChild(node);
    return node;
  }

  function render(state) {
    app.textContent = "";
    app.dataset.role = state.role;
    app.appendChild(el("h1", null, state.lock.title || t("main-page.title")));

    var task = section("task", t("main-page.task.heading"));
    if (!state.task) {
      task.appendChild(el("p", "muted", t("main-page.task.none")));
    } else {
      task.appendChild(el("p", "task-text", state.task.text));
      task.appendChild(el("p", null, t("main-page.task.points", { points: state.task.points })));
      if (state.task.duration) {
        task.appendChild(
          el("p", null, t("main-page.task.timed", { minutes: Math.round(state.task.duration / 60) }))
        );
      }
      if (state.task.timerEndsAt) {
        task.appendChild(el("p", null, t("main-page.task.timer-ends", { time: at(state.task.timerEndsAt) })));
      }
      if (state.task.deadlineAt) {
        task.appendChild(el("p", null, t("main-page.task.deadline", { time: at(state.task.deadlineAt) })));
      }
      if (state.task.verificationRequired) {
        task.appendChild(el("p", "muted", t("main-page.task.photo")));
      }
    }

    var lock = section("lock", null);
    lock.appendChild(
      el("p", state.lock.endsAt ? null : "muted",
        state.lock.endsAt ? t("main-page.lock.ends", { time: at(state.lock.endsAt) }) : t("main-page.lock.hidden"))
    );
    if (state.points) {
      lock.appendChild(
        el("p", "points",
          state.points.required === null
            ? t("main-page.points-no-target", { earned: state.points.earned })
            : t("main-page.points", { earned: state.points.earned, required: state.points.required }))
      );
    }

    var servers = section("servers", t("main-page.servers.heading"));
    if (!state.servers.length) {
      servers.appendChild(el("p", "muted", t("main-page.servers.none")));
    } else {
      var list = el("ul");
      state.servers.forEach(function (server) {
        var item = el("li");
        item.appendChild(el("strong", null, server.name || t("main-page.servers.unknown-server")));
        item.appendChild(document.createTextNode(" · "));
        item.appendChild(document.createTextNode(
          server.selfManaged
            ? t("main-page.servers.self")
            : t("main-page.servers.keyholder", { name: server.keyholder || t("main-page.servers.unknown-name") })
        ));
        if (server.paused !== undefined) {
          item.appendChild(document.createTextNode(" · "));
          item.appendChild(el("span", server.paused ? "paused" : "running",
            server.paused ? t("main-page.servers.paused", { time: at(server.pausedAt) }) : t("main-page.servers.running")));
        }
        list.appendChild(item);
      });
      servers.appendChild(list);
    }

    var recent = section("recent", t("main-page.recent.heading"));
    if (!state.recent.length) {
      recent.appendChild(el("p", "muted", t("main-page.recent.none")));
    } else {
      var done = el("ul");
      state.recent.forEach(function (item) {
        var row = el("li");
        row.appendChild(el("span", "outcome-" + item.outcome, t("main-page.recent." + item.outcome)));
        row.appendChild(document.createTextNode(" · " + item.text + " · " + at(item.at)));
        done.appendChild(row);
      });
      recent.appendChild(done);
    }

    var code = section("link-code", t("main-page.code.heading"));
    code.appendChild(el("p", "code", state.linkCode));
    code.appendChild(el("p", null, t("main-page.code." + state.role, { code: state.linkCode })));
    code.appendChild(el("p", "muted", t("main-page.code.expires", { time: at(state.linkCodeExpiresAt) })));

    var refresh = el("button", null, t("main-page.refresh"));
    refresh.id = "refresh";
    refresh.type = "button";
    refresh.addEventListener("click", load);
    app.appendChild(refresh);
  }

  function load() {
    var token = page.hashToken("mainToken");
    if (!token) {
      showStatus(t("page.token-invalid"), "error");
      return;
    }
    page.post("main/state", { mainToken: token })
      .then(function (answer) {
        if (answer.ok) render(answer.body);
        else showStatus((answer.body && answer.body.message) || t("page.chaster-unavailable"), "error");
      })
      .catch(function () {
        showStatus(t("page.chaster-unavailable"), "error");
      });
  }

  load();
})();
