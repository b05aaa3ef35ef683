// Command balancersim turns the output of the balancer package's simulation benchmark into an SVG
// chart of latency percentiles per policy, one panel per scenario.
//
//	go test -run '^$' -bench Sim -benchtime=1x ./balancer | go run ./examples/balancersim -o examples/balancersim/sim.svg
//
// Each panel shows, for every policy, the p50 (light) and p99 (dark) latency in milliseconds on a
// logarithmic axis, with the p99 printed above its bar; below each policy's name, the largest share
// of requests one backend received and, when any request failed, the failure rate.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// result is one line of BenchmarkSim output.
type result struct {
	Scenario, Policy string
	Metrics          map[string]float64 // by unit: p50-ms, p99-ms, worst-%, fail-%
}

// errNoResults is returned by parse when the input holds no BenchmarkSim line.
var errNoResults = errors.New("balancersim: no BenchmarkSim results in input")

// parse reads benchmark output and returns the BenchmarkSim results in input order. Other lines
// are ignored.
func parse(r io.Reader) ([]result, error) {
	var out []result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasPrefix(f[0], "BenchmarkSim/") {
			continue
		}
		res := result{Metrics: map[string]float64{}}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the -GOMAXPROCS suffix
			}
		}
		for _, part := range strings.Split(name, "/")[1:] {
			k, v, _ := strings.Cut(part, "=")
			switch k {
			case "scenario":
				res.Scenario = v
			case "policy":
				res.Policy = v
			}
		}
		for i := 2; i+1 < len(f); i += 2 { // f[1] is the iteration count
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("balancersim: bad value %q in %q", f[i], sc.Text())
			}
			res.Metrics[f[i+1]] = v
		}
		if res.Scenario == "" || res.Policy == "" {
			return nil, fmt.Errorf("balancersim: no scenario or policy in %q", f[0])
		}
		out = append(out, res)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("balancersim: %w", err)
	}
	if len(out) == 0 {
		return nil, errNoResults
	}
	return out, nil
}

// scenarioTitles describes the scenarios of BenchmarkSim.
var scenarioTitles = map[string]string{
	"slow4x":   "one of ten backends 4× slower, 70% load",
	"equal":    "ten equal backends, 90% load",
	"failfast": "one of ten backends fails fast, 70% load",
}

const (
	panelW, panelH = 360, 330
	plotTop        = 70
	plotH          = 190
	marginL        = 50
)

// render writes the chart of results as an SVG document.
func render(w io.Writer, results []result) error {
	var scenarios []string
	by := map[string][]result{}
	for _, r := range results {
		if _, ok := by[r.Scenario]; !ok {
			scenarios = append(scenarios, r.Scenario)
		}
		by[r.Scenario] = append(by[r.Scenario], r)
	}
	// One log axis for all panels, from the power of ten below the smallest p50 to the one above
	// the largest p99.
	lo, hi := 0, 0
	for i, r := range results {
		l := int(math.Floor(math.Log10(math.Max(r.Metrics["p50-ms"], 1e-3))))
		h := int(math.Ceil(math.Log10(math.Max(r.Metrics["p99-ms"], 1e-3))))
		if i == 0 || l < lo {
			lo = l
		}
		if i == 0 || h > hi {
			hi = h
		}
	}
	hi = max(hi, lo+1)
	bottom := math.Pow10(lo)
	y := func(v float64) float64 {
		f := (math.Log10(math.Max(v, bottom)) - float64(lo)) / float64(hi-lo)
		return plotTop + plotH - plotH*f
	}

	width := marginL + panelW*len(scenarios) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", width, panelH+40, width, panelH+40)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">Latency by balancing policy: 20 clients, each with its own balancer, 10 backends</text>`+"\n", marginL)
	fmt.Fprintf(&b, `<text x="%d" y="40" fill="#555">ms, log scale; light bar p50, dark bar p99 (value printed); below: worst backend's share of requests, failures</text>`+"\n", marginL)
	// Axis labels and grid, once across all panels.
	for e := lo; e <= hi; e++ {
		v := math.Pow10(e)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, width-10, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`+"\n", marginL-4, y(v)+4, strconv.FormatFloat(v, 'g', -1, 64))
	}
	for pi, sc := range scenarios {
		x0 := float64(marginL + pi*panelW)
		title := scenarioTitles[sc]
		if title == "" {
			title = sc
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-weight="bold">%s</text>`+"\n", x0+panelW/2, plotTop-12, html.EscapeString(title))
		rs := by[sc]
		slot := float64(panelW-20) / float64(len(rs))
		for i, r := range rs {
			sx := x0 + 10 + slot*float64(i)
			bw := slot * 0.32
			p50, p99 := r.Metrics["p50-ms"], r.Metrics["p99-ms"]
			base := y(bottom)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#9ecae1"><title>%s p50 %.3g ms</title></rect>`+"\n",
				sx+slot*0.15, y(p50), bw, base-y(p50), html.EscapeString(r.Policy), p50)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#08519c"><title>%s p99 %.3g ms</title></rect>`+"\n",
				sx+slot*0.15+bw, y(p99), bw, base-y(p99), html.EscapeString(r.Policy), p99)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>`+"\n", sx+slot*0.15+1.5*bw, y(p99)-3, fmtMS(p99))
			cx := sx + slot/2
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", cx, plotTop+plotH+16, html.EscapeString(r.Policy))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555" font-size="10">%.0f%%</text>`+"\n", cx, plotTop+plotH+30, r.Metrics["worst-%"])
			if f := r.Metrics["fail-%"]; f > 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#b30000" font-size="10">%.2g%% fail</text>`+"\n", cx, plotTop+plotH+43, f)
			}
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">Seeded event-driven simulation (virtual time), 200,000 requests per run: go test -run '^$' -bench Sim -benchtime=1x ./balancer</text>`+"\n", marginL, panelH+30)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fmtMS formats a latency for a bar label.
func fmtMS(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

func main() {
	out := flag.String("o", "", "write the SVG to this file instead of standard output")
	flag.Parse()
	if err := run(os.Stdin, *out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(in io.Reader, out string) error {
	results, err := parse(in)
	if err != nil {
		return err
	}
	if out == "" {
		return render(os.Stdout, results)
	}
	var b strings.Builder
	if err := render(&b, results); err != nil {
		return err
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
