// Console helpers, no build step: send the CSRF token with fetch() calls.
window.consoleFetch = function (url, options) {
  options = options || {};
  options.headers = Object.assign({ "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content }, options.headers || {});
  options.credentials = "same-origin";
  return fetch(url, options);
};
