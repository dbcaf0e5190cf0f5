// Recordings page: a click (or Enter) on a transcript line plays the recording from there.
// One delegated listener: the lines are rendered by Dash whenever a recording is opened.
(function () {
  function seek(line) {
    var audio = document.getElementById("recordings-audio");
    if (!audio) { return; }
    audio.currentTime = parseFloat(line.getAttribute("data-start")) || 0;
    var playing = audio.play();
    if (playing && playing.catch) { playing.catch(function () {}); }
  }
  document.addEventListener("click", function (event) {
    var line = event.target.closest && event.target.closest("#recordings-lines [data-start]");
    if (line) { seek(line); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    var line = event.target.closest && event.target.closest("#recordings-lines [data-start]");
    if (line) { seek(line); }
  });
})();

// Call History: the recording icon of a recorded call's row, a link to its recording.
(function () {
  var funcs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
  funcs.RecordingLink = function (props) {
    if (!props.value) { return null; }
    return React.createElement("a", {
      href: "/recordings?rec=" + encodeURIComponent(props.value),
      className: "sb-rec-link",
      title: "Play the recording",
      "aria-label": "Recording",
      "data-recording-id": props.value,
    });
  };
})();
