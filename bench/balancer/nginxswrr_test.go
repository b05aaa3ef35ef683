package balancer

import "sync"

// nginxSWRR is a STAND-IN for github.com/smallnest/weighted's SW (which cannot be fetched here):
// a straightforward reimplementation of nginx's smooth weighted round-robin
// (ngx_http_upstream_get_peer), O(n) per pick, made safe for concurrent use with a mutex, as a
// caller of smallnest/weighted (not goroutine-safe) must do.
type nginxSWRR struct {
	mu    sync.Mutex
	items []*nginxItem
}

type nginxItem struct {
	item            string
	weight, current int
}

func (w *nginxSWRR) Add(item string, weight int) {
	w.items = append(w.items, &nginxItem{item: item, weight: weight})
}

// Next returns the next item: every current weight grows by its weight, the largest (first on
// ties) is picked and loses the total.
func (w *nginxSWRR) Next() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var best *nginxItem
	total := 0
	for _, it := range w.items {
		it.current += it.weight
		total += it.weight
		if best == nil || it.current > best.current {
			best = it
		}
	}
	if best == nil {
		return ""
	}
	best.current -= total
	return best.item
}
