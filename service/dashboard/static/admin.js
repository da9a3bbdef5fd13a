/* Admin pages: forms that call the admin API, and the policy editor (histograms, what-if preview). */
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]').content;
  document.querySelectorAll("form.api-form").forEach(function (apiForm) {
    apiForm.addEventListener("submit", function (event) {
      event.preventDefault();
      if (apiForm.dataset.confirm && !window.confirm(apiForm.dataset.confirm)) return;
      var body = {}, url = apiForm.dataset.url;
      Array.prototype.forEach.call(apiForm.elements, function (field) {
        if (!field.name) return;
        if (field.hasAttribute("data-path")) { url = url.replace("{" + field.name + "}", encodeURIComponent(field.value.trim())); return; }
        if (field.hasAttribute("data-multi")) { body[field.name] = (body[field.name] || []).concat(field.checked ? [field.value] : []); return; }
        if (field.type === "checkbox") { body[field.name] = field.checked; return; }
        body[field.name] = field.hasAttribute("data-list")
          ? field.value.split("\n").map(function (v) { return v.trim(); }).filter(Boolean) : field.value;
      });
      fetch(url, { method: apiForm.dataset.method, credentials: "same-origin",
                   headers: { "Content-Type": "application/json", "X-CSRFToken": token }, body: JSON.stringify(body) })
        .then(function (r) {
          if (r.status === 204) return { ok: true, data: {} };
          return r.json().then(function (data) { return { ok: r.ok, data: data }; });
        })
        .then(function (result) {
          var out = apiForm.querySelector(".result");
          if (!result.ok) { out.textContent = (result.data.error && result.data.error.message) || "Not saved."; return; }
          if (apiForm.dataset.then === "reload") { window.location.reload(); return; }
          if (apiForm.dataset.then === "secret") {
            out.textContent = "Created. Copy it now, it is not shown again: ";
            var code = document.createElement("code");
            code.className = "secret";
            code.textContent = result.data.secret;
            out.appendChild(code);
            return;
          }
          out.textContent = "Saved.";
        });
    });
  });
  var form = document.getElementById("policy");
  if (!form) return;
  var csrf = token;
  var api = "/api/v1/admin/sites/" + encodeURIComponent(form.dataset.site) + "/policy";
  var initial = new FormData(form), timer = null;

  function number(name) {
    var value = form.elements[name].value.trim();
    return value === "" ? null : parseFloat(value);
  }
  function words(name) { return form.elements[name].value.split("\n").map(function (w) { return w.trim(); }).filter(Boolean); }
  function candidate() {
    var thresholds = {};
    form.querySelectorAll("tr[data-score]").forEach(function (row) {
      var name = row.dataset.score;
      thresholds[name] = { review_at: number(name + ".review_at"), reject_at: number(name + ".reject_at") };
    });
    var maxLinks = form.elements.max_links.value.trim();
    return { thresholds: thresholds, premoderation: form.elements.premoderation.value,
             banned_words: words("banned_words"), suspect_words: words("suspect_words"),
             hold_first: parseInt(form.elements.hold_first.value || "0", 10),
             max_links: maxLinks === "" ? null : parseInt(maxLinks, 10),
             allow_domains: words("allow_domains"), deny_domains: words("deny_domains") };
  }
  function send(path, body) {
    return fetch(api + path, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); });
  }
  function list(id, items) {
    var ul = document.getElementById(id);
    ul.textContent = "";
    items.forEach(function (text) { var li = document.createElement("li"); li.textContent = text; ul.appendChild(li); });
  }
  function chart(rows) {
    var box = document.getElementById("preview-chart");
    box.textContent = "";
    rows.forEach(function (row) {
      var line = document.createElement("div"), label = document.createElement("span"),
          bar = document.createElement("span"), value = document.createElement("span");
      line.className = "chart-row"; label.className = "chart-label"; label.textContent = row[0];
      bar.className = "seg seg-" + (row[2] === 1 ? "published" : row[0] === "held" ? "flagged" : row[0] === "rejected" ? "rejected" : "pending");
      bar.style.width = (row[1] === null || !row[2] ? 0 : 70 * row[1] / row[2]) + "%";
      value.className = "muted"; value.textContent = row[1] === null ? "—" : row[1];
      line.appendChild(label); line.appendChild(bar); line.appendChild(value); box.appendChild(line);
    });
  }

  function preview() {
    send("/replay", candidate()).then(function (result) {
      var d = result.data;
      if (!result.ok) { document.getElementById("preview-summary").textContent = (d.error && d.error.message) + ": " + JSON.stringify(d.error.fields); return; }
      document.getElementById("preview-summary").textContent =
        "Of " + d.comments + " comments: " + d.outcomes.published + " published, " + d.outcomes.flagged + " held, " +
        d.outcomes.rejected + " rejected; " + d.changed + " would change outcome.";
      list("preview-diff", d.diff);
      chart([["published", d.outcomes.published, d.comments], ["held", d.outcomes.flagged, d.comments],
             ["rejected", d.outcomes.rejected, d.comments], ["changed", d.changed, d.comments],
             ["precision", d.precision, 1], ["recall", d.recall, 1], ["F1", d.f1, 1]]);
      document.getElementById("preview-agreement").textContent = d.moderated
        ? "Against " + d.moderated + " moderator decisions: precision " + d.precision + ", recall " + d.recall + ", F1 " + d.f1 + "."
        : "No moderator decisions to compare with yet.";
      list("preview-sample", d.changed_sample.map(function (c) { return c.id + ": " + c.from + " → " + c.to; }));
    });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(preview, 250); });
  document.getElementById("apply").addEventListener("click", function () {
    send("", candidate()).then(function (result) {
      var saved = document.getElementById("saved");
      if (!result.ok) { saved.textContent = "Not saved: " + JSON.stringify(result.data.error.fields); return; }
      document.getElementById("version").textContent = result.data.version;
      saved.textContent = "Saved as version " + result.data.version + ": " + (result.data.diff.join("; ") || "no change");
      initial = new FormData(form);
    });
  });
  document.getElementById("discard").addEventListener("click", function () {
    initial.forEach(function (value, name) { form.elements[name].value = value; });
    preview();
  });
  fetch(api, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    form.querySelectorAll("tr[data-score]").forEach(function (row) {
      var counts = data.distributions[row.dataset.score] || [], top = Math.max.apply(null, counts.concat([1]));
      var box = row.querySelector(".histogram");
      counts.forEach(function (count) {
        var bar = document.createElement("span");
        bar.style.height = Math.round(100 * count / top) + "%";
        bar.title = count + " comments";
        box.appendChild(bar);
      });
    });
  });
})();
