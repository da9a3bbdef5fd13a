/* modqueue comment widget. Usage:
 *   <div id="modqueue-thread" data-site="KEY" data-article-id="ID" data-article-url="URL" data-article-title="T"></div>
 *   <script src="https://HOST/embed.js" async></script>
 * Renders in a shadow root, so the page's styles and the widget's do not mix. Theme it from the page with
 * CSS custom properties on the container: --mq-text, --mq-muted, --mq-accent, --mq-bg, --mq-border,
 * --mq-font, --mq-radius. Comment text is always inserted as text, never as HTML. */
(function () {
  "use strict";
  var script = document.currentScript;
  var API = new URL(script ? script.src : "/embed.js", location.href).origin + "/api/v1";
  var POLL_MS = 3000, POLL_LIMIT = 200;
  var REASONS = [["spam", "Spam"], ["abuse", "Abusive or harassing"], ["off_topic", "Off topic"], ["other", "Something else"]];
  var CSS = [
    ":host{display:block;contain:content}",
    ".mq{all:initial;display:block;font-family:var(--mq-font,system-ui,-apple-system,'Segoe UI',sans-serif);",
    "font-size:16px;line-height:1.5;color:var(--mq-text,#1f2328);background:var(--mq-bg,transparent);text-align:left}",
    ".mq *{box-sizing:border-box;font:inherit;color:inherit;letter-spacing:normal;text-transform:none}",
    "h2{font-size:1.25em;font-weight:700;margin:0 0 .75em}",
    "ul{list-style:none;margin:0;padding:0}ul ul{margin-left:1.25em;padding-left:.75em;border-left:2px solid var(--mq-border,#d0d7de)}",
    "li{margin:0 0 1em}.meta{font-size:.875em;color:var(--mq-muted,#59636e)}.meta strong{color:var(--mq-text,#1f2328)}",
    ".body{white-space:pre-wrap;overflow-wrap:anywhere;margin:.25em 0}",
    ".pending{border-left:3px solid var(--mq-accent,#0969da);padding-left:.5em}",
    ".badge{display:inline-block;font-size:.75em;padding:0 .5em;border-radius:1em;background:#fff8c5;color:#4d2d00}",
    "button{cursor:pointer;border:1px solid var(--mq-border,#d0d7de);background:transparent;border-radius:var(--mq-radius,6px);padding:.15em .6em;font-size:.875em}",
    "button.primary{background:var(--mq-accent,#0969da);border-color:var(--mq-accent,#0969da);color:#fff;padding:.4em 1em;font-size:1em}",
    "button:focus-visible,input:focus-visible,textarea:focus-visible,select:focus-visible,[tabindex]:focus-visible{outline:2px solid var(--mq-accent,#0969da);outline-offset:2px}",
    "form{display:grid;gap:.5em;margin:1em 0}label{display:grid;gap:.2em;font-size:.875em;font-weight:600}",
    "input,textarea,select{width:100%;padding:.4em;border:1px solid var(--mq-border,#d0d7de);border-radius:var(--mq-radius,6px);background:#fff;color:#1f2328;font-weight:400}",
    "textarea{min-height:6em;resize:vertical}[aria-invalid=true]{border-color:#cf222e}",
    ".error{color:#cf222e;font-size:.875em;margin:0}.notice{font-size:.9em;margin:.5em 0;color:var(--mq-muted,#59636e)}",
    ".hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
  ].join("");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function request(method, path, body, headers) {
    var options = { method: method, headers: Object.assign({ Accept: "application/json" }, headers || {}) };
    if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    return fetch(API + path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data, retryAfter: response.headers.get("Retry-After") };
      });
    });
  }

  function Thread(container) {
    this.site = container.dataset.site;
    this.article = { id: container.dataset.articleId };
    if (container.dataset.articleUrl) this.article.url = container.dataset.articleUrl;
    if (container.dataset.articleTitle) this.article.title = container.dataset.articleTitle;
    this.storageKey = "modqueue:" + this.site + ":" + this.article.id;
    this.root = container.shadowRoot || container.attachShadow({ mode: "open" });
    this.root.innerHTML = "";
    this.root.appendChild(el("style", { text: CSS }));
    this.heading = el("h2", { id: "mq-heading", text: "Comments" });
    this.status = el("div", { role: "status", "aria-live": "polite", class: "notice" });
    this.list = el("ul", { "aria-labelledby": "mq-heading" });
    this.root.appendChild(el("div", { class: "mq" }, [this.heading, this.status, this.list, this.form(null)]));
    this.polls = 0;
    this.load();
  }

  Thread.prototype.mine = function () {
    try { return JSON.parse(localStorage.getItem(this.storageKey)) || []; } catch (e) { return []; }
  };
  Thread.prototype.remember = function (items) {
    try { localStorage.setItem(this.storageKey, JSON.stringify(items)); } catch (e) { /* private mode */ }
  };

  Thread.prototype.load = function () {
    var self = this;
    var path = "/sites/" + encodeURIComponent(this.site) + "/articles/" + encodeURIComponent(this.article.id) + "/comments";
    return request("GET", path).then(function (result) {
      if (result.status !== 200) throw new Error("status " + result.status);
      return Promise.all(self.mine().map(function (own) {
        return request("GET", "/comments/" + encodeURIComponent(own.id)).then(function (r) { return r.status === 200 ? r.data : null; });
      })).then(function (own) { self.render(result.data, own.filter(Boolean)); });
    }).catch(function () {
      self.heading.textContent = "Comments";
      self.say("Comments could not be loaded.");
    });
  };

  Thread.prototype.render = function (thread, own) {
    var self = this, published = {}, waiting = false, kept = [];
    this.heading.textContent = "Comments (" + thread.count + ")";
    var form = this.root.querySelector(".mq > form");
    if (thread.closed && form) { form.remove(); this.say("Comments are closed."); }
    this.list.textContent = "";
    thread.comments.forEach(function (c) { self.list.appendChild(self.item(c, published)); });
    own.forEach(function (c) {
      if (c.status === "published" && published[c.id]) return;
      if (c.status === "rejected") { self.say("One of your comments was not published."); return; }
      // Published after the thread was fetched: show it now, and load once more to place it.
      var justPublished = c.status === "published";
      waiting = true;
      kept.push({ id: c.id });
      var parent = c.parent_id && published[c.parent_id];
      var holder = parent ? parent.querySelector("ul") : self.list;
      holder.appendChild(self.item(c, published, !justPublished));
    });
    this.remember(kept);
    clearTimeout(this.timer);
    if (waiting && this.polls++ < POLL_LIMIT) this.timer = setTimeout(function () { self.load(); }, POLL_MS);
  };

  Thread.prototype.item = function (c, index, pending) {
    var self = this;
    var time = el("time", { datetime: c.created_at, text: new Date(c.created_at).toLocaleString() });
    var meta = el("div", { class: "meta" }, [el("strong", { text: c.author.name }), document.createTextNode(" · "), time]);
    if (pending) meta.appendChild(el("span", { class: "badge", text: "awaiting moderation" }));
    var node = el("li", { class: pending ? "comment pending" : "comment", "data-id": c.id, tabindex: "-1" }, [
      meta, el("p", { class: "body", text: c.body })
    ]);
    if (!pending) {
      var actions = el("div", {}, [
        el("button", { type: "button", text: "Reply", "aria-label": "Reply to " + c.author.name, onclick: function () { self.openReply(node, c); } }),
        document.createTextNode(" "),
        el("button", { type: "button", text: "Report", "aria-label": "Report comment by " + c.author.name, onclick: function () { self.openReport(node, c); } })
      ]);
      node.appendChild(actions);
    }
    var replies = el("ul", {});
    (c.replies || []).forEach(function (r) { replies.appendChild(self.item(r, index)); });
    node.appendChild(replies);
    index[c.id] = node;
    return node;
  };

  Thread.prototype.say = function (message) { this.status.textContent = message; };

  Thread.prototype.field = function (label, control, hint) {
    var error = el("p", { class: "error", id: control.id + "-error", hidden: "" });
    control.setAttribute("aria-describedby", error.id);
    return { wrap: el("div", {}, [el("label", { for: control.id, text: label }), control, error]), control: control, error: error, hint: hint };
  };

  Thread.prototype.form = function (parent) {
    var self = this, suffix = parent ? "-" + parent.id : "";
    var name = this.field("Name", el("input", { id: "mq-name" + suffix, name: "name", required: "", maxlength: "80", autocomplete: "name" }));
    var email = this.field("Email (optional, never shown)", el("input", { id: "mq-email" + suffix, name: "email", type: "email", maxlength: "254", autocomplete: "email" }));
    var body = this.field(parent ? "Your reply" : "Your comment", el("textarea", { id: "mq-body" + suffix, name: "body", required: "", maxlength: "10000" }));
    var honeypot = el("input", { name: "website", tabindex: "-1", autocomplete: "off", id: "mq-website" + suffix });
    var fields = { "author.name": name, "author.email": email, body: body };
    var submit = el("button", { type: "submit", class: "primary", text: parent ? "Post reply" : "Post comment" });
    var general = el("p", { class: "error", role: "alert", hidden: "" });
    var form = el("form", { novalidate: "", "aria-label": parent ? "Reply to " + parent.author.name : "Write a comment" }, [
      name.wrap, email.wrap, body.wrap,
      el("div", { class: "hp", "aria-hidden": "true" }, [el("label", { for: honeypot.id, text: "Website" }), honeypot]),
      general, el("div", {}, [submit])
    ]);
    var idempotencyKey = null;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      Object.keys(fields).forEach(function (k) { fields[k].error.hidden = true; fields[k].control.removeAttribute("aria-invalid"); });
      general.hidden = true;
      idempotencyKey = idempotencyKey || (window.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now());
      var payload = { site: self.site, article: self.article, author: { name: name.control.value }, body: body.control.value };
      if (email.control.value.trim()) payload.author.email = email.control.value.trim();
      if (honeypot.value) payload.honeypot = honeypot.value;
      if (parent) payload.parent_id = parent.id;
      submit.disabled = true;
      request("POST", "/comments", payload, { "Idempotency-Key": idempotencyKey }).then(function (result) {
        submit.disabled = false;
        if (result.status === 202) {
          idempotencyKey = null;
          body.control.value = "";
          self.remember(self.mine().concat([{ id: result.data.id }]));
          self.say("Thanks! Your comment was received and is awaiting moderation.");
          if (parent) form.remove();
          return self.load().then(function () {
            var mine = self.root.querySelector('[data-id="' + result.data.id + '"]');
            if (mine) mine.focus();
          });
        }
        var error = (result.data && result.data.error) || {};
        var first = null;
        Object.keys(error.fields || {}).forEach(function (k) {
          var f = fields[k];
          if (!f) return;
          f.error.textContent = error.fields[k];
          f.error.hidden = false;
          f.control.setAttribute("aria-invalid", "true");
          first = first || f.control;
        });
        if (first) { first.focus(); return; }
        if (result.status === 429) {
          var wait = parseInt(result.retryAfter, 10);
          general.textContent = "You are posting too fast. Please wait " + (wait > 0 ? wait + " seconds" : "a moment") + " and try again.";
        } else if (result.status === 403) {
          general.textContent = error.code === "commenting_closed" ? "Comments are closed." : "Comments are not enabled on this page.";
        } else {
          general.textContent = error.message || "Your comment could not be posted. Please try again.";
        }
        general.hidden = false;
      }).catch(function () {
        submit.disabled = false;
        general.textContent = "The comment service could not be reached. Please try again.";
        general.hidden = false;
      });
    });
    return form;
  };

  Thread.prototype.openReply = function (node, comment) {
    var existing = node.querySelector(":scope > form");
    if (existing) { existing.querySelector("textarea").focus(); return; }
    var form = this.form(comment);
    node.insertBefore(form, node.querySelector(":scope > ul"));
    form.querySelector("input").focus();
  };

  Thread.prototype.openReport = function (node, comment) {
    var self = this;
    if (node.querySelector(":scope > .report")) return;
    var select = el("select", { id: "mq-reason-" + comment.id }, REASONS.map(function (r) { return el("option", { value: r[0], text: r[1] }); }));
    var form = el("form", { class: "report", "aria-label": "Report comment by " + comment.author.name }, [
      el("label", { for: select.id, text: "Why should a moderator look at this comment?" }), select,
      el("div", {}, [el("button", { type: "submit", text: "Send report" })])
    ]);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      request("POST", "/comments/" + encodeURIComponent(comment.id) + "/reports", { reason: select.value }).then(function (result) {
        form.remove();
        self.say(result.status === 202 ? "Thanks, a moderator will review this comment." : "The report could not be sent.");
      });
    });
    node.insertBefore(form, node.querySelector(":scope > ul"));
    select.focus();
  };

  function start() {
    var containers = document.querySelectorAll("#modqueue-thread, [data-modqueue-thread]");
    Array.prototype.forEach.call(containers, function (c) { if (!c.__modqueue) c.__modqueue = new Thread(c); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
