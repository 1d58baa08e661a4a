// Support pages: knowledge-base suggestions while the subject is typed, and buttons that
// submit once (a double click never sends a form twice; the server's idempotency key
// covers the rest).
(function () {
  "use strict";

  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[data-once]");
      if (button) {
        window.setTimeout(function () { button.disabled = true; }, 0);
      }
    });
  });

  var input = document.querySelector("[data-suggest-url]");
  var box = document.getElementById("kb-suggest");
  if (!input || !box) {
    return;
  }
  var list = box.querySelector("ul");
  var timer = null;
  var lastQuery = "";
  var controller = null;

  function show(articles) {
    list.textContent = "";
    articles.forEach(function (article) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = article.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = article.title;
      var note = document.createElement("span");
      note.className = "muted small";
      note.textContent = article.snippet;
      item.appendChild(link);
      item.appendChild(note);
      list.appendChild(item);
    });
    box.hidden = articles.length === 0;
  }

  function lookup() {
    var query = input.value.trim();
    if (query === lastQuery) {
      return;
    }
    lastQuery = query;
    if (query.length < 3) {
      show([]);
      return;
    }
    if (controller) {
      controller.abort();
    }
    controller = new AbortController();
    var url = input.getAttribute("data-suggest-url") + "?q=" + encodeURIComponent(query);
    fetch(url, { headers: { Accept: "application/json" }, signal: controller.signal, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { articles: [] }; })
      .then(function (data) { show(data.articles || []); })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          show([]);
        }
      });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(lookup, 250);
  });
  if (input.value) {
    lookup();
  }
})();
