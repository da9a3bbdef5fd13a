/* Moderation queue: keyboard-driven decisions, bulk selection, live updates over server-sent events. */
(function () {
  "use strict";
  var cards = document.getElementById("cards");
  if (!cards) return;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var queue = cards.dataset.status, siteFilter = cards.dataset.site;
  var current = null;

  function all() { return Array.prototype.slice.call(cards.querySelectorAll(".card")); }
  function notice(text) { document.getElementById("notice").textContent = text; }
  function updateEmpty() { document.getElementById("empty").hidden = all().length > 0; }
  function adjustCount(name, delta) {
    var count = document.querySelector('.count[data-queue="' + name + '"]');
    if (count) count.textContent = Math.max(0, parseInt(count.textContent, 10) + delta);
  }

  function focusCard(card) {
    current = card || null;
    all().forEach(function (c) { c.classList.toggle("current", c === current); });
    if (current) current.focus();
  }
  function move(step) {
    var list = all();
    if (!list.length) return;
    var i = list.indexOf(current);
    focusCard(list[i < 0 ? 0 : Math.min(list.length - 1, Math.max(0, i + step))]);
  }
  function targets() {
    var picked = all().filter(function (c) { return c.querySelector(".pick").checked; });
    return picked.length ? picked : current ? [current] : [];
  }

  function removeCard(card, text) {
    var list = all(), i = list.indexOf(card);
    if (text) notice(text);
    card.remove();
    adjustCount(queue, -1);
    if (current === card) focusCard(all()[Math.min(i, all().length - 1)]);
    updateEmpty();
  }

  function decide(card, action) {
    var author = card.querySelector(".author").textContent;
    var body = { action: action, expected_status: card.dataset.status };
    if (action === "reject") body.reason = card.querySelector(".reason").value;
    var note = card.querySelector(".note").value.trim();
    if (note) body.note = note;
    return fetch("/api/v1/moderation/comments/" + encodeURIComponent(card.dataset.id) + "/decision", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) {
          removeCard(card, (action === "approve" ? "Approved" : "Rejected") + " the comment by " + author + ".");
        } else {
          card.classList.add("conflict");
          card.querySelector(".outcome").textContent = (data.error && data.error.message) || "The decision was not saved.";
        }
      });
    });
  }
  function restrictAuthor(card, options) {
    var body = { kind: options.kind, reason: card.querySelector(".reason").value };
    if (options.days) body.days = parseInt(options.days, 10);
    fetch("/api/v1/moderation/comments/" + encodeURIComponent(card.dataset.id) + "/author-restriction", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify(body)
    }).then(function (response) { return response.json(); }).then(function (data) {
      card.querySelector(".outcome").textContent = data.kind === "ban"
        ? data.author + " is banned on this site: new comments are rejected."
        : data.kind === "suspend" ? data.author + " is suspended until " + data.until.slice(0, 10) + ": new comments are held."
        : (data.error && data.error.message) || "Not saved.";
    });
  }

  function act(action) {
    var chosen = targets().filter(function (c) { return c.querySelector("." + action); });
    chosen.forEach(function (card) { decide(card, action); });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea, dialog")) return;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": act("approve"); break;
      case "r": act("reject"); break;
      case "x":
        if (current) {
          var pick = current.querySelector(".pick");
          pick.checked = !pick.checked;
          current.classList.toggle("picked", pick.checked);
        }
        break;
      case "?": document.getElementById("help").showModal(); break;
      default: return;
    }
    event.preventDefault();
  });

  cards.addEventListener("click", function (event) {
    var card = event.target.closest(".card");
    if (!card) return;
    if (event.target.matches("button.approve")) decide(card, "approve");
    else if (event.target.matches("button.reject")) decide(card, "reject");
    else if (event.target.matches("button.restrict")) restrictAuthor(card, event.target.dataset);
    else if (event.target.matches(".pick")) card.classList.toggle("picked", event.target.checked);
    else if (!event.target.closest("a, select, label")) focusCard(card);
  });

  function insertCard(id) {
    if (cards.querySelector('[data-id="' + id + '"]')) return;
    fetch("/dashboard/cards/" + encodeURIComponent(id), { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) return;
      return response.text().then(function (html) {
        if (cards.querySelector('[data-id="' + id + '"]')) return;
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();  // markup rendered and escaped by the server's templates
        cards.insertBefore(holder.content.firstElementChild, cards.firstElementChild);
        adjustCount(queue, 1);
        updateEmpty();
        notice("A new comment arrived in this queue.");
      });
    });
  }

  if (window.EventSource) {
    // The stream first sends what changed since this page was made (and, reconnecting, since its last
    // message, a little overlapping): an event seen once is not acted on again.
    var source = new EventSource("/dashboard/events?since=" + encodeURIComponent(cards.dataset.eventsSince));
    var seen = new Set();
    function firstTime(event) {
      var data = JSON.parse(event.data), key = event.type + " " + data.id + " " + data.status;
      if (seen.has(key)) return null;
      seen.add(key);
      return data;
    }
    function arrived(name) {
      return function (event) {
        var data = firstTime(event);
        if (!data) return;
        if (name === "flagged") adjustCount("pending", -1);
        if (queue === name && (!siteFilter || data.site === siteFilter)) insertCard(data.id);
      };
    }
    source.addEventListener("comment.flagged", arrived("flagged"));
    source.addEventListener("comment.reported", arrived("reported"));
    source.addEventListener("comment.decided", function (event) {
      var data = firstTime(event);
      if (!data) return;
      var card = cards.querySelector('[data-id="' + data.id + '"]');
      if (card && card.dataset.status !== data.status) removeCard(card, data.actor ? "Decided by " + data.actor + "." : "");
    });
  }
  focusCard(all()[0]);
})();
