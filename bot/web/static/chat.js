// Web chat page: no build step. Keeps a random session id in localStorage so a
// returning visitor continues (a reload restores the transcript from the server), sends
// text/buttons/files and voice recordings (the microphone button, where the browser can record),
// and polls for later messages. Typing the label of a button of the
// last message is the same as pressing it.
(function () {
  "use strict";
  var lang = document.querySelector(".chat").dataset.lang;
  var log = document.getElementById("log");
  var statusLine = document.getElementById("status");
  var typingLine = document.getElementById("typing");
  var waiting = 0, agentTyping = false;  // requests the bot is answering; an agent writing
  function showTyping() { typingLine.hidden = !(waiting > 0 || agentTyping); }
  var sessionId = localStorage.getItem("sdb_session");
  if (!sessionId) {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    sessionId = Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    localStorage.setItem("sdb_session", sessionId);
  }
  var lastId = Number(localStorage.getItem("sdb_last_" + sessionId) || 0);
  var lastButtons = [];
  var WHO = { customer: "me", bot: "bot", staff: "staff" };

  function remember(id) {
    if (id && id > lastId) { lastId = id; localStorage.setItem("sdb_last_" + sessionId, String(lastId)); }
  }

  function add(who, text, buttons, files) {
    var li = document.createElement("li");
    li.className = who;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = text;
    li.appendChild(bubble);
    if (files && files.length) {
      var fl = document.createElement("div");
      fl.className = "files";
      files.forEach(function (f) {
        var a = document.createElement("a");
        a.textContent = f.name;
        if (f.url) { a.href = f.url; a.target = "_blank"; a.rel = "noopener"; }
        fl.appendChild(a);
      });
      li.appendChild(fl);
    }
    if (buttons && buttons.length) {
      var bl = document.createElement("div");
      bl.className = "buttons";
      if (who !== "me") { lastButtons = buttons; }
      buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.label;
        btn.addEventListener("click", function () { add("me", b.label); send({ button: b.payload }); });
        bl.appendChild(btn);
      });
      li.appendChild(bl);
    }
    if (who !== "me" && !(buttons && buttons.length)) { lastButtons = []; }
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function show(replies, all) {
    (replies || []).forEach(function (r) {
      if (!all && r.id && r.id <= lastId) return;
      add(WHO[r.from] || "bot", r.text, r.buttons, r.files);
      remember(r.id);
    });
  }

  function buttonFor(text) {
    var typed = text.trim().toLowerCase();
    for (var i = 0; i < lastButtons.length; i++) {
      if (lastButtons[i].label.trim().toLowerCase() === typed) return lastButtons[i];
    }
    return null;
  }

  function handle(resp) {
    return resp.json().then(function (body) {
      statusLine.hidden = true;
      if (!resp.ok) { add("bot", body.error || ("HTTP " + resp.status)); return; }
      show(body.replies);
    });
  }

  function failed() { statusLine.hidden = false; }

  // "正在输入" while the bot prepares the answer; hidden before the answer is shown.
  function answered(request) {
    waiting++; showTyping();
    return request.then(function (resp) { waiting--; showTyping(); return handle(resp); },
      function () { waiting--; showTyping(); failed(); });
  }

  function send(body) {
    body.session_id = sessionId;
    return answered(fetch("/api/chat?lang=" + lang, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }));
  }

  document.getElementById("composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = document.getElementById("text");
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    add("me", text);
    var button = buttonFor(text);
    send(button ? { button: button.payload } : { text: text });
  });

  document.getElementById("file").addEventListener("change", function (ev) {
    var file = ev.target.files[0];
    if (!file) return;
    add("me", "📎 " + file.name);
    var form = new FormData();
    form.append("session_id", sessionId);
    form.append("file", file);
    answered(fetch("/api/chat/upload", { method: "POST", body: form }));
    ev.target.value = "";
  });

  // The microphone button: click to record, click again to send; the answer starts with what was heard.
  var recordButton = document.getElementById("record");
  var recorder = null;
  if (window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    recordButton.hidden = false;
    recordButton.addEventListener("click", function () {
      if (recorder) { recorder.stop(); return; }
      navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
        var chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.addEventListener("dataavailable", function (ev) { if (ev.data.size) chunks.push(ev.data); });
        recorder.addEventListener("stop", function () {
          stream.getTracks().forEach(function (track) { track.stop(); });
          var type = recorder.mimeType || "audio/webm";
          recorder = null;
          recordButton.classList.remove("on");
          recordButton.title = recordButton.getAttribute("aria-label");
          sendVoice(new Blob(chunks, { type: type }), type);
        });
        recorder.start();
        recordButton.classList.add("on");
        recordButton.title = recordButton.dataset.recording;
      }, function () { add("bot", recordButton.dataset.unavailable); });
    });
  }

  function sendVoice(blob, type) {
    if (!blob.size) return;
    add("me", "🎤");
    var form = new FormData();
    form.append("session_id", sessionId);
    form.append("file", blob, type.indexOf("ogg") >= 0 ? "voice.ogg" : "voice.webm");
    answered(fetch("/api/chat/voice?lang=" + lang, { method: "POST", body: form }));
  }

  function poll() {
    fetch("/api/chat/messages?session_id=" + sessionId + "&after=" + lastId)
      .then(function (resp) { return resp.json(); })
      .then(function (body) {
        statusLine.hidden = true; agentTyping = !!body.typing; showTyping(); show(body.messages);
      }, failed)
      .then(function () { setTimeout(poll, 3000); });
  }

  function restore() {
    return fetch("/api/chat/messages?session_id=" + sessionId + "&after=0")
      .then(function (resp) { return resp.json(); })
      .then(function (body) {
        var transcript = body.messages || [];
        if (!transcript.length) { return send({ text: "/start" }); }
        show(transcript, true);
      }, failed);
  }

  (lastId === 0 ? send({ text: "/start" }) : restore()).then(poll, poll);
})();
