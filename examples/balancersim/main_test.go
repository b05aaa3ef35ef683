package main

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
pkg: github.com/sinew-dev/sinew/balancer
BenchmarkSim/scenario=slow4x/policy=roundrobin-2         	       1	         0 fail-%	         2.311 p50-ms	     45893 p99-ms	        10.01 worst-%
BenchmarkSim/scenario=slow4x/policy=peakewma-2           	       1	         0 fail-%	         2.630 p50-ms	        14.39 p99-ms	        11.56 worst-%
BenchmarkSim/scenario=failfast/policy=peakewma           	       1	         0.01100 fail-%	         2.719 p50-ms	        14.15 p99-ms	        11.45 worst-%
BenchmarkPick/policy=p2c/backends=10-2   1000   30 ns/op
PASS
`

func TestParse(t *testing.T) {
	got, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	want := []result{
		{Scenario: "slow4x", Policy: "roundrobin", Metrics: map[string]float64{"fail-%": 0, "p50-ms": 2.311, "p99-ms": 45893, "worst-%": 10.01}},
		{Scenario: "slow4x", Policy: "peakewma", Metrics: map[string]float64{"fail-%": 0, "p50-ms": 2.630, "p99-ms": 14.39, "worst-%": 11.56}},
		{Scenario: "failfast", Policy: "peakewma", Metrics: map[string]float64{"fail-%": 0.011, "p50-ms": 2.719, "p99-ms": 14.15, "worst-%": 11.45}},
	}
	assert.Equal(t, want, got)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", "", errNoResults},
		{"no sim lines", "BenchmarkPick/x 10 5 ns/op\n", errNoResults},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(strings.NewReader(tt.in))
			assert.ErrorIs(t, err, tt.want)
		})
	}
	_, err := parse(strings.NewReader("BenchmarkSim/scenario=a/policy=b 1 x p50-ms\n"))
	assert.ErrorContains(t, err, "bad value")
	_, err = parse(strings.NewReader("BenchmarkSim/foo 1 2 p50-ms\n"))
	assert.ErrorContains(t, err, "no scenario or policy")
}

// TestRender checks that the chart is well-formed XML with two bars per result and every label.
func TestRender(t *testing.T) {
	results, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, render(&b, results))
	svg := b.String()

	dec := xml.NewDecoder(strings.NewReader(svg))
	rects := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	assert.Equal(t, 1+2*len(results), rects, "background and two bars per result")
	for _, s := range []string{"one of ten backends 4× slower", "roundrobin", "peakewma", "45893", "0.011% fail", "100000"} {
		assert.Contains(t, svg, s)
	}
}

func TestRunWritesFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sim.svg")
	require.NoError(t, run(strings.NewReader(sample), out))
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(data), "<svg"))
	assert.ErrorIs(t, run(strings.NewReader(""), out), errNoResults)
}

// TestCommittedChart checks that the committed chart is the rendering of a simulation run.
func TestCommittedChart(t *testing.T) {
	data, err := os.ReadFile("sim.svg")
	require.NoError(t, err)
	assert.Contains(t, string(data), "peakewma")
	assert.NoError(t, xml.Unmarshal(data, new(struct{})))
}
