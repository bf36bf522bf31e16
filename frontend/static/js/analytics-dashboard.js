// The analytics dashboard's charts (Chart.js): volume and mean wait per day,
// CSAT and QA per day, the handle-time distribution. The figures come from the
// page's JSON (json_script); without this script the tiles and tables remain.
(function () {
  const source = document.getElementById("analytics-chart-data");
  if (!source || typeof window.Chart === "undefined") return;
  const data = JSON.parse(source.textContent);
  const blue = "#2f6fde";
  const orange = "#d9822b";
  const green = "#2e9d5b";

  function chart(id, config) {
    const canvas = document.getElementById(id);
    if (canvas) new window.Chart(canvas, config);
  }

  chart("chart-volume", {
    data: {
      labels: data.days,
      datasets: [
        { type: "bar", label: "Tasks created", data: data.created, backgroundColor: blue, yAxisID: "y" },
        {
          type: "line",
          label: "Mean wait (min)",
          data: data.wait_minutes,
          borderColor: orange,
          backgroundColor: orange,
          spanGaps: true,
          tension: 0.2,
          yAxisID: "wait",
        },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        y: { beginAtZero: true, title: { display: true, text: "Tasks" } },
        wait: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "Minutes" } },
      },
    },
  });

  chart("chart-quality", {
    type: "line",
    data: {
      labels: data.days,
      datasets: [
        { label: "CSAT satisfied (%)", data: data.csat_rate, borderColor: green, backgroundColor: green, spanGaps: true, tension: 0.2 },
        { label: "QA average", data: data.qa_avg, borderColor: blue, backgroundColor: blue, spanGaps: true, tension: 0.2 },
      ],
    },
    options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } } },
  });

  chart("chart-handle", {
    type: "bar",
    data: {
      labels: data.handle_labels,
      datasets: [{ label: "Closed tasks", data: data.handle_counts, backgroundColor: blue }],
    },
    options: {
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
})();
