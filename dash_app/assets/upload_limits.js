// A dcc.Upload keeps back a file over its max_size and fires no callback, so the
// user saw nothing happen. For every zone dash_app/upload_limits.py wraps, this one
// listener compares each dropped or chosen file with the zone's limit and writes the
// zone's sentence into its "-too-large" line (as text: a file name is not markup).
(function () {
    "use strict";

    function say(line, text) {
        var dc = window.dash_clientside;
        if (dc && typeof dc.set_props === "function" && line.id) {
            dc.set_props(line.id, {children: text});  // through Dash: the layout stays in step
        } else {
            line.textContent = text;
        }
    }

    function check(event) {
        var target = event.target;
        var zone = target && target.closest ? target.closest("[data-upload-max-bytes]") : null;
        if (!zone) {
            return;
        }
        var files = event.dataTransfer ? event.dataTransfer.files : target.files;
        if (!files || !files.length) {
            return;
        }
        var line = zone.querySelector(".sb-upload-too-large");
        if (!line) {
            return;
        }
        var limit = Number(zone.getAttribute("data-upload-max-bytes"));
        var large = Array.prototype.filter.call(files, function (f) { return f.size > limit; });
        var text = large.length
            ? zone.getAttribute("data-upload-too-large").replace("{name}", large[0].name)
            : "";
        say(line, text);
    }

    // capture: seen before the dropzone handles (and may stop) the event
    document.addEventListener("drop", check, true);
    document.addEventListener("change", check, true);
})();
