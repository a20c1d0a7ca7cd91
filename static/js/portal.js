// Forms that undo something ask first (no inline handlers: the CSP allows only this file).
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// A button with data-copy="<id>" copies that element's text (the Receive page's address and memo).
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) {
    return;
  }
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) {
    return;
  }
  var label = button.textContent;
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    button.textContent = "Copied";
    window.setTimeout(function () { button.textContent = label; }, 2000);
  });
});

// A text field with data-picker="<url>" suggests matches as one types: its datalist gets the first page the
// picker's JSON answers for what was typed (the export form's users and connections).
(function () {
  var timers = new WeakMap();
  document.addEventListener("input", function (event) {
    var field = event.target;
    var url = field.getAttribute && field.getAttribute("data-picker");
    if (!url) {
      return;
    }
    window.clearTimeout(timers.get(field));
    timers.set(field, window.setTimeout(function () {
      fetch(url + "?q=" + encodeURIComponent(field.value), {credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : {results: []}; })
        .then(function (answer) {
          var list = document.getElementById(field.getAttribute("list"));
          if (!list) {
            return;
          }
          list.replaceChildren.apply(list, answer.results.map(function (row) {
            var option = document.createElement("option");
            option.value = row.value;
            option.textContent = row.label;
            return option;
          }));
        });
    }, 200));
  });
})();
