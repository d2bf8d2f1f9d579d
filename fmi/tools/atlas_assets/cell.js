// fmi atlas, the cell view: cell.html#<cell key> loads that cell's data file and shows it.
"use strict";

// A cell key is content/group/item, each a name of letters, digits, '.', '_' and '-' that starts with a
// letter or digit; a page is such a name ending in .html. Anything else is never loaded or linked.
var NAME = "[A-Za-z0-9][A-Za-z0-9._-]*";
var KEY = new RegExp("^" + NAME + "/" + NAME + "/" + NAME + "$");
var PAGE = new RegExp("^" + NAME + "\\.html$");

function element(tag, text) {
  var node = document.createElement(tag);
  if (text !== undefined) { node.textContent = text; }
  return node;
}

function lossCurve(losses, stride) {
  var namespace = "http://www.w3.org/2000/svg";
  var width = 560, height = 220, margin = 40;
  var svg = document.createElementNS(namespace, "svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  if (!losses.length) {
    var note = document.createElementNS(namespace, "text");
    note.setAttribute("x", margin);
    note.setAttribute("y", height / 2);
    note.textContent = "no steps were taken";
    svg.appendChild(note);
    return svg;
  }
  var first = losses[0] > 0 ? losses[0] : 1;
  var relative = losses.map(function (value) { return Math.max(value / first, 1e-12); });
  var logs = relative.map(Math.log10);
  var low = Math.min.apply(null, logs), high = Math.max.apply(null, logs);
  if (high - low < 1e-9) { high = low + 1; }
  var points = logs.map(function (value, index) {
    var x = margin + (width - 2 * margin) * (losses.length > 1 ? index / (losses.length - 1) : 0);
    var y = height - margin - (height - 2 * margin) * (value - low) / (high - low);
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  var line = document.createElementNS(namespace, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1f77b4");
  line.setAttribute("stroke-width", "2");
  svg.appendChild(line);
  var labels = [[margin, height - 10, "step 1"],
                [width - margin - 60, height - 10, "step " + ((losses.length - 1) * stride + 1)],
                [4, margin - 10, "loss / first loss (log scale), from 1 to " + lowest(relative)]];
  labels.forEach(function (label) {
    var text = document.createElementNS(namespace, "text");
    text.setAttribute("x", label[0]);
    text.setAttribute("y", label[1]);
    text.setAttribute("font-size", "12");
    text.textContent = label[2];
    svg.appendChild(text);
  });
  return svg;
}

function lowest(relative) {
  // enough digits to tell the lowest point from 1: 0.9987, not 1.0
  var low = Math.min.apply(null, relative);
  var digits = Math.min(12, Math.max(2, Math.ceil(-Math.log10(Math.max(Math.abs(1 - low), 1e-12))) + 2));
  return low.toPrecision(digits);
}

function show(data) {
  document.title = data.key;
  document.getElementById("title").textContent = data.key;
  document.getElementById("made").textContent = (data.weights || "") + "; fidelity " + (data.fidelity || "paper");
  document.getElementById("image").src = data.image;
  document.getElementById("back").href = PAGE.test(data.page) ? data.page : "index.html";
  document.getElementById("back").textContent = data.content + " " + data.group;
  var facts = document.getElementById("facts");
  facts.innerHTML = "";
  (data.details || []).concat([["steps", data.steps], ["stop reason", data.stop_reason], ["wall time", data.wall_s + " s"],
   ["marked", data.mark || "-"]]).forEach(function (row) {
    var tr = element("tr");
    tr.appendChild(element("th", row[0]));
    tr.appendChild(element("td", String(row[1])));
    facts.appendChild(tr);
  });
  var loss = document.getElementById("loss");
  loss.innerHTML = "";
  loss.appendChild(lossCurve(data.loss, data.loss_stride));
  var links = document.getElementById("links");
  links.innerHTML = "";
  data.siblings.forEach(function (sibling) {
    var item = element("li");
    var link = element("a", sibling.label);
    link.href = KEY.test(sibling.key) ? "#" + sibling.key : "#";
    link.className = "sibling";
    item.appendChild(link);
    links.appendChild(item);
  });
  if (!data.siblings.length) { links.appendChild(element("li", "no other content image in this run")); }
  var controlFigure = document.getElementById("control-figure");
  if (data.control) {
    controlFigure.hidden = false;
    document.getElementById("control-image").src = data.control.image;
    document.getElementById("control-caption").textContent = "control: " + data.control.weights + ", " +
      data.control.steps + " steps" + (data.control.mark ? ", " + data.control.mark : "");
  } else {
    controlFigure.hidden = true;
  }
}

window.fmiAtlasCell = function (data) {
  if (data.key === decodeURIComponent(window.location.hash.slice(1))) { show(data); }
};

function load() {
  var key = decodeURIComponent(window.location.hash.slice(1));
  var error = document.getElementById("error");
  error.hidden = true;
  if (!KEY.test(key) || key.split("/").indexOf("..") >= 0) {
    error.hidden = false;
    error.textContent = key ? "no cell is called " + key : "no cell named: open a cell from the overview";
    return;
  }
  var script = element("script");
  script.src = "data/cells/" + key.split("/").map(encodeURIComponent).join("/") + ".js";
  script.onerror = function () {
    error.hidden = false;
    error.textContent = "cell " + key + " is not in this atlas (rebuild it with python -m fmi.atlas)";
  };
  document.head.appendChild(script);
}

window.addEventListener("hashchange", load);
document.addEventListener("DOMContentLoaded", load);
