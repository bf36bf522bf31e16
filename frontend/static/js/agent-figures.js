// The agent's tasks closed (bars) and CSAT (line) per week, from the figures
// in the table below it; without this script the page shows only the table.
(function () {
  const source = document.getElementById("agent-trend-data");
  const canvas = document.getElementById("agent-trend");
  if (!source || !canvas || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  canvas.parentElement.hidden = false;
  new window.Chart(canvas, {
    data: {
      labels: data.labels,
      datasets: [
        {
          type: "bar",
          label: "Tasks closed",
          data: data.closed,
          backgroundColor: "#9bb8ef",
          yAxisID: "tasks",
        },
        {
          type: "line",
          label: "CSAT %",
          data: data.csat,
          borderColor: "#2f6fde",
          backgroundColor: "#2f6fde",
          spanGaps: true,
          tension: 0.2,
          yAxisID: "csat",
        },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        tasks: { type: "linear", position: "left", beginAtZero: true, title: { display: true, text: "Tasks closed" } },
        csat: { type: "linear", position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "CSAT %" } },
      },
    },
  });
})();
