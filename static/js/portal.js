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

function forEachOf(list, callback) {
  Array.prototype.forEach.call(list, callback);
}

// On a phone the top bar's links collapse behind a Menu button (CSS hides them only once this has run, so a page
// without scripts still shows every link, wrapped).
(function () {
  var toggle = document.querySelector(".nav-toggle");
  var header = document.querySelector(".topbar");
  if (!toggle || !header) {
    return;
  }
  header.classList.add("collapsible");
  toggle.hidden = false;
  var show = function (open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    header.classList.toggle("nav-open", open);
  };
  toggle.addEventListener("click", function () {
    show(toggle.getAttribute("aria-expanded") !== "true");
  });
  // Escape closes the open menu and gives the focus back to its button.
  header.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
      show(false);
      toggle.focus();
    }
  });
})();

// A table with a header row (its first row, all <th>) becomes one card per row on a phone: each cell is labelled with
// its column's header (data-label, drawn by CSS), so nothing is lost when the header row is hidden. Most templates
// write the labels and the "cards" class themselves, so that a phone without scripts gets the cards too; this labels
// any table that does not.
(function () {
  forEachOf(document.querySelectorAll("main table"), function (table) {
    var rows = table.rows;
    if (rows.length < 2 || !rows[0].cells.length) {
      return;
    }
    var headers = Array.prototype.slice.call(rows[0].cells);
    if (!headers.every(function (cell) { return cell.tagName === "TH"; })) {
      return;
    }
    var labels = headers.map(function (th) { return th.textContent.trim(); });
    rows[0].classList.add("header-row");
    forEachOf(Array.prototype.slice.call(rows, 1), function (row, index) {
      // A row of one cell across every column (the exports' coverage under its connection) joins the card above.
      if (index > 0 && row.cells.length === 1 && row.cells[0].colSpan >= labels.length) {
        row.classList.add("continues");
      }
      forEachOf(row.cells, function (cell, index) {
        if (labels[index] && cell.colSpan === 1 && !cell.hasAttribute("data-label")) {
          cell.setAttribute("data-label", labels[index]);
        }
      });
    });
    table.classList.add("cards");
  });
})();

// A region marked data-live-refresh="<seconds>" refetches itself from the same page while the server keeps the mark
// (the withdrawal status while the exchange works on it, a dashboard card while its balances are read): no page
// reload, focus stays where it was. With data-live-refresh-until="<seconds>" it gives up after that long and shows
// the region's reload hints again (.reload-hint, the text a page without scripts keeps).
(function () {
  forEachOf(document.querySelectorAll("[data-live-refresh]"), function (region) {
    var seconds = parseInt(region.getAttribute("data-live-refresh"), 10) || 5;
    var until = parseInt(region.getAttribute("data-live-refresh-until"), 10);
    var deadline = until ? Date.now() + until * 1000 : Infinity;
    var hints = function (shown) {
      forEachOf(region.querySelectorAll(".reload-hint"), function (hint) { hint.hidden = !shown; });
    };
    var again = function (delay) {
      if (Date.now() + delay > deadline) {
        hints(true);
        return;
      }
      window.setTimeout(poll, delay);
    };
    var poll = function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
          if (!fresh) {
            return;
          }
          if (region.innerHTML !== fresh.innerHTML) {  // a screen reader hears it only when something changed
            region.innerHTML = fresh.innerHTML;
            hints(false);
          }
          if (fresh.hasAttribute("data-live-refresh")) {
            again(seconds * 1000);
          } else {
            region.removeAttribute("data-live-refresh");
          }
        })
        .catch(function () { again(seconds * 2000); });
    };
    hints(false);
    again(seconds * 1000);
  });
})();
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
