// phongdich: progressive enhancement only; every page works without this script.
// Unit picker: choosing a level clears the levels below it and reloads the form.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form.unit-picker select").forEach(function (sel) {
    sel.addEventListener("change", function () {
      var form = sel.form;
      var order = (sel.dataset.order || "0") | 0;
      form.querySelectorAll("select").forEach(function (other) {
        if (((other.dataset.order || "0") | 0) > order) {
          other.disabled = true;
        }
      });
      form.submit();
    });
  });
});
