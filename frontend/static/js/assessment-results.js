// The score distribution as a bar chart (Chart.js). The numbers are in the
// table beside it; without this script the page shows only the table.
(function () {
  const source = document.getElementById("score-distribution-data");
  const canvas = document.getElementById("score-distribution");
  if (!source || !canvas || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  canvas.parentElement.hidden = false;
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [{ label: "Attempts", data: data.counts, backgroundColor: "#2f6fde" }],
    },
    options: {
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: {
        x: { title: { display: true, text: "Score (%)" } },
        y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "Attempts" } },
      },
    },
  });
})();
