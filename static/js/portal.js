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
