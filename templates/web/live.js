// The live inbox: the person's feed over EventSource (the session cookie
// authenticates it; EventSource resumes with Last-Event-ID by itself).
(function () {
  var list = document.getElementById("inbox");
  if (!list || !window.EventSource) return;
  var status = document.getElementById("live-status");
  var feed = new EventSource("/console/events");
  function add(ev, edited) {
    var data;
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    var empty = document.getElementById("inbox-empty");
    if (empty) empty.remove();
    var m = data.message || {};
    var li = document.createElement("li");
    li.className = "item unread live";
    li.dataset.feedId = data.id;
    var t = document.createElement("strong");
    t.textContent = (edited ? "(updated) " : "") + (m.title || "");
    var p = document.createElement("p");
    p.textContent = m.text || "";
    li.appendChild(t);
    li.appendChild(p);
    list.insertBefore(li, list.firstChild);
  }
  feed.addEventListener("message", function (ev) { add(ev, false); });
  feed.addEventListener("edit", function (ev) { add(ev, true); });
  feed.onopen = function () { if (status) status.textContent = "Live: new items appear here as they arrive."; };
  feed.onerror = function () { if (status) status.textContent = "Reconnecting…"; };
})();
