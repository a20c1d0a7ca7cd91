// Forms that undo something ask first (no inline handlers: the CSP allows only this file).
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// A form whose submit button has data-sending="…" is sent once: a second submit is dropped, and the button is
// disabled and says so until the answer comes. The server stays idempotent whatever the browser does.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (event.defaultPrevented) {
    return;
  }
  var button = event.submitter || form.querySelector("[data-sending]");
  if (!button || !button.hasAttribute("data-sending")) {
    return;
  }
  if (form.getAttribute("data-sent") === "true") {
    event.preventDefault();
    return;
  }
  form.setAttribute("data-sent", "true");
  // Disabled after this turn, so the button's own name and value still go with the form.
  window.setTimeout(function () {
    button.disabled = true;
    button.setAttribute("aria-disabled", "true");
    button.setAttribute("data-label", button.textContent);
    button.textContent = button.getAttribute("data-sending");
  }, 0);
});

// A page shown again from the back-forward cache gets its buttons back.
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) {
    return;
  }
  document.querySelectorAll("form[data-sent]").forEach(function (form) {
    form.removeAttribute("data-sent");
    form.querySelectorAll("[data-sending][data-label]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-disabled");
      button.textContent = button.getAttribute("data-label");
    });
  });
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

// A select with data-follows="<id>" shows only its option groups whose data-for is that select's value (the
// withdrawal's networks of the chosen currency); the server checks the pair whatever the browser sends.
function followChoice(select) {
  var leader = document.getElementById(select.getAttribute("data-follows"));
  if (!leader) {
    return;
  }
  var firstShown = null;
  select.querySelectorAll("optgroup[data-for]").forEach(function (group) {
    var shown = group.getAttribute("data-for") === leader.value;
    group.hidden = !shown;
    group.disabled = !shown;
    if (shown && !firstShown) {
      firstShown = group.querySelector("option");
    }
  });
  var selected = select.options[select.selectedIndex];
  if ((!selected || selected.parentNode.disabled) && firstShown) {
    firstShown.selected = true;
  }
}

document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-follows]").forEach(function (select) {
    followChoice(select);
    var leader = document.getElementById(select.getAttribute("data-follows"));
    if (leader) {
      leader.addEventListener("change", function () { followChoice(select); });
    }
  });
});
