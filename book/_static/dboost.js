// dboost book: click a notebook figure to view it at full window size; click or Esc to close.
// Jupyter Book links every .js file in book/_static on every page. No network access.
document.addEventListener("DOMContentLoaded", function () {
  var zoomed = null;
  function close() {
    if (zoomed) {
      zoomed.classList.remove("dboost-zoomed");
      zoomed = null;
    }
  }
  document.querySelectorAll(".cell_output img").forEach(function (img) {
    img.title = img.title || "Click to enlarge";
    img.addEventListener("click", function () {
      if (zoomed === img) {
        close();
      } else {
        close();
        img.classList.add("dboost-zoomed");
        zoomed = img;
      }
    });
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") close();
  });
});
