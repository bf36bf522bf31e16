// The weekly mean QA score as a line chart (Chart.js). The figures are in the
// table below it; without this script the page shows only the table.
(function () {
  const source = document.getElementById("qa-trend-data");
  const canvas = document.getElementById("qa-trend");
  if (!source || !canvas || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  canvas.parentElement.hidden = false;
  // The chart now shows the figures; the table stays one click away.
  const table = document.getElementById("qa-trend-table");
  if (table) table.open = false;
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [
        {
          label: "Mean score",
          data: data.scores,
          borderColor: "#2f6fde",
          backgroundColor: "#2f6fde",
          spanGaps: true,
          tension: 0.2,
        },
      ],
    },
    options: {
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: {
        y: { min: 0, max: 100, title: { display: true, text: "Mean score" } },
        x: { title: { display: true, text: "ISO week" } },
      },
    },
  });
})();
