// Print buttons: any element with data-print opens the browser's print dialog. A file of
// its own, since pages carry no inline scripts (Content Security Policy).
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-print]") : null;
  if (button) {
    event.preventDefault();
    window.print();
  }
});
