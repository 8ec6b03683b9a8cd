// The console's only script (no inline scripts: the Content-Security-Policy forbids them). Progressive: every
// page works without it. It counts deadlines down ([data-deadline] elements, ISO 8601) and asks before a form
// marked [data-confirm] is sent.
(function () {
  "use strict";
  function remaining(deadline, lang) {
    var ms = Date.parse(deadline) - Date.now();
    var late = ms < 0; ms = Math.abs(ms);
    var h = Math.floor(ms / 3600000), m = Math.floor((ms % 3600000) / 60000);
    var d = Math.floor(h / 24); h = h % 24;
    var zh = lang.indexOf("zh") === 0;
    var text = zh ? ((d ? d + "天" : "") + h + "小时" + m + "分") : ((d ? d + "d " : "") + h + "h " + m + "m");
    return late ? (zh ? "已超时 " + text : "overdue by " + text) : (zh ? "剩余 " + text : text + " left");
  }
  function tick() {
    var lang = document.documentElement.lang || "zh";
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      el.textContent = remaining(el.getAttribute("data-deadline"), lang);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 30000);
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  });
})();
// Public submission (pages/public.py): a "use my location" button fills the latitude and longitude fields from
// the browser's geolocation; it stays hidden where the browser has none, and the fields work by hand anyway.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("use-location");
    var lat = document.getElementById("lat"), long = document.getElementById("long");
    var status = document.getElementById("location-status");
    if (!button || !lat || !long || !("geolocation" in navigator)) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (status) { status.textContent = button.getAttribute("data-locating"); }
      navigator.geolocation.getCurrentPosition(function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        long.value = position.coords.longitude.toFixed(6);
        if (status) { status.textContent = ""; }
      }, function () {
        if (status) { status.textContent = button.getAttribute("data-failed"); }
      }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
  });
})();
