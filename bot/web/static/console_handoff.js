// Agents' pages, no build step: the queue and an open conversation refresh themselves by
// polling small JSON endpoints every few seconds; the canned-reply picker fills the reply box.
(function () {
  "use strict";
  var POLL_MS = 3000;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m >= 60) return Math.floor(m / 60) + "h " + (m % 60) + "m";
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function poll(url, apply, statusNode, offlineText) {
    function tick() {
      fetch(url(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (r.status === 401 || r.redirected) { window.location.reload(); return null; }
          if (!r.ok) throw new Error(String(r.status));
          return r.json();
        })
        .then(function (data) { if (data) { apply(data); if (statusNode) statusNode.textContent = ""; } })
        .catch(function () { if (statusNode) statusNode.textContent = offlineText || "…"; })
        .then(function () { setTimeout(tick, POLL_MS); });
    }
    setTimeout(tick, POLL_MS);
  }

  // -- the queue ---------------------------------------------------------------------------
  var queue = document.getElementById("queue");
  if (queue) {
    var labels = JSON.parse(queue.dataset.labels);
    var csrf = queue.dataset.csrf;

    var takeForm = function (item) {
      var form = el("form");
      form.method = "post";
      form.action = "/console/handoffs/" + item.id + "/claim";
      var token = el("input");
      token.type = "hidden"; token.name = "csrf_token"; token.value = csrf;
      var button = el("button", "take", labels.take);
      button.type = "submit";
      button.dataset.handoff = item.id;
      form.appendChild(token);
      form.appendChild(button);
      return form;
    };

    var row = function (item, kind) {
      var tr = el("tr");
      tr.dataset.handoff = item.id;
      var who = el("td");
      var link = el("a", null, item.customer);
      link.href = item.url;
      who.appendChild(link);
      who.appendChild(el("div", "muted", item.channel));
      tr.appendChild(who);
      tr.appendChild(el("td", null, kind === "others" ? item.agent : item.reason));
      var question = el("td", "question", item.question);
      if (item.after_hours) question.appendChild(el("span", "badge warn", labels.after_hours));
      tr.appendChild(question);
      var waited = el("td");
      if (kind === "waiting") waited.textContent = duration(item.waiting_s);
      else if (item.awaiting_s !== null) waited.appendChild(el("span", "badge warn", labels.unanswered + " " + duration(item.awaiting_s)));
      tr.appendChild(waited);
      var act = el("td");
      if (kind === "waiting") act.appendChild(takeForm(item));
      else { var open = el("a", "button", labels.open); open.href = item.url; act.appendChild(open); }
      tr.appendChild(act);
      return tr;
    };

    var fill = function (id, items, kind, emptyText) {
      var body = document.getElementById(id);
      if (!body) return;
      body.textContent = "";
      if (!items.length && emptyText) {
        var tr = el("tr"), td = el("td", "empty", emptyText);
        td.colSpan = 5; tr.appendChild(td); body.appendChild(tr);
      }
      items.forEach(function (item) { body.appendChild(row(item, kind)); });
      var count = document.getElementById(id + "-count");
      if (count) count.textContent = String(items.length);
    };

    var apply = function (state) {
      fill("waiting", state.waiting, "waiting", labels.none_waiting);
      fill("mine", state.mine, "mine", labels.none_mine);
      fill("others", state.others, "others", null);
      document.getElementById("agents-on-duty").textContent = labels.agents_on_duty.replace("{count}", state.agents_on_duty);
      var waiting = state.waiting.length;
      document.title = (waiting ? "(" + waiting + ") " : "") + document.title.replace(/^\(\d+\) /, "");
    };

    apply(JSON.parse(document.getElementById("queue-state").textContent));
    poll(function () { return "/console/api/queue"; }, apply, document.getElementById("live-status"), labels.offline);
  }

  // -- one conversation ---------------------------------------------------------------------
  var transcript = document.getElementById("transcript");
  if (transcript) {
    var tl = JSON.parse(transcript.dataset.labels);
    var conversationId = transcript.dataset.conversation;
    var after = Number(transcript.dataset.after || 0);
    var status = transcript.dataset.status;

    var add = function (m) {
      var li = el("li", "msg " + m.sender);
      li.dataset.id = m.id;
      li.appendChild(el("div", "meta", tl[m.sender] + (m.staff ? " · " + m.staff : "") + " · " + m.at));
      li.appendChild(el("div", "text", m.text || (m.button ? "[" + tl.button + " " + m.button + "]" : "")));
      if (m.buttons && m.buttons.length) li.appendChild(el("div", "meta", "[" + m.buttons.join(" | ") + "]"));
      if (m.files && m.files.length) {
        var files = el("div", "meta", tl.files + ": ");
        m.files.forEach(function (f) {
          if (f.audio) {
            var player = el("audio");
            player.controls = true; player.preload = "none"; player.src = f.url;
            files.appendChild(player);
            files.appendChild(document.createTextNode(" "));
          }
          var a = el("a", null, f.name);
          a.href = f.url; a.target = "_blank"; a.rel = "noopener";
          files.appendChild(a);
          files.appendChild(document.createTextNode(" "));
        });
        li.appendChild(files);
      }
      transcript.appendChild(li);
      li.scrollIntoView({ block: "nearest" });
    };

    poll(function () { return "/console/api/conversations/" + conversationId + "/messages?after=" + after; },
      function (data) {
        data.messages.forEach(function (m) { add(m); after = Math.max(after, m.id); });
        if (data.status !== status) {
          var note = document.getElementById("live-status");
          note.textContent = tl.changed;
          note.className = "badge warn";
          status = data.status;
        }
      }, null);

    var canned = document.getElementById("canned");
    var text = document.getElementById("reply-text");
    // While the agent types, the customer sees "typing" (at most one signal every 4 s).
    var typingUrl = transcript.dataset.typing, typingCsrf = transcript.dataset.csrf, typingAt = 0;
    if (text && typingUrl) {
      text.addEventListener("input", function () {
        if (!text.value.trim() || Date.now() - typingAt < 4000) return;
        typingAt = Date.now();
        fetch(typingUrl, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": typingCsrf } });
      });
    }
    if (canned && text) {
      canned.addEventListener("change", function () {
        if (canned.value) { text.value = text.value ? text.value + "\n" + canned.value : canned.value; text.focus(); }
        canned.value = "";
      });
    }
    var last = transcript.lastElementChild;
    if (last) last.scrollIntoView({ block: "nearest" });
  }
})();
