// Hotline workspace: what every page needs on top of htmx.
// An htmx request refused by the server (403 CSRF, 404, 409 ...) shows the server's
// Chinese message in the page's alert region instead of failing silently.
document.addEventListener("htmx:responseError", (event) => {
  const flash = document.getElementById("flash");
  const xhr = event.detail.xhr;
  if (flash && xhr && xhr.status !== 422) {
    flash.textContent = xhr.responseText || "操作未完成，请刷新页面后重试";
  }
});
// 422 answers carry the form again with the errors next to its fields: show them.
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.xhr.status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
