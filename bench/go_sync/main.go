// go_sync: Go's side of bench/syncbench.c, the same workloads.
//
//	go_sync rwmutex|waitgroup|once|cancel [n]
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

var sink int

func benchRWMutex(n int) {
	var rw sync.RWMutex
	var wg sync.WaitGroup
	shared := 0
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/4; i++ {
				if i%100 == 0 {
					rw.Lock()
					shared++
					rw.Unlock()
				} else {
					rw.RLock()
					sink = shared
					rw.RUnlock()
				}
			}
		}()
	}
	wg.Wait()
}

func benchWaitGroup(n int) {
	var g sync.WaitGroup
	for i := 0; i < n; i++ {
		g.Add(1)
		g.Done()
		g.Wait()
	}
}

func benchOnce(n int) {
	var o sync.Once
	for i := 0; i < n; i++ {
		o.Do(func() { sink++ })
	}
}

func benchCancel(n int) {
	const children = 10000
	cancels := make([]context.CancelFunc, children)
	for r := 0; r < n/children; r++ {
		root, cancel := context.WithCancel(context.Background())
		for i := range cancels {
			_, cancels[i] = context.WithCancel(root)
		}
		cancel()
		for _, c := range cancels {
			c()
		}
	}
}

func main() {
	w, n := "", 4000000
	if len(os.Args) > 1 {
		w = os.Args[1]
	}
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	fns := map[string]func(int){"rwmutex": benchRWMutex, "waitgroup": benchWaitGroup,
		"once": benchOnce, "cancel": benchCancel}
	f, ok := fns[w]
	if !ok || n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: go_sync rwmutex|waitgroup|once|cancel [n > 0]")
		os.Exit(2)
	}
	t0 := time.Now()
	f(n)
	fmt.Printf("%s %.1f ns/op\n", w, float64(time.Since(t0).Nanoseconds())/float64(n))
}
