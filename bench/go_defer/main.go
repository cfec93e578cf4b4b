// go_defer: Go's side of bench/panicbench.c, the same three workloads.
//
//	go_defer plain|pcall|panic [n]
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var sink int

//go:noinline
func deferred(i int) { sink += i }

//go:noinline
func bodyPlain(i int) { sink += i }

//go:noinline
func bodyDefer(i int) {
	defer deferred(i)
	sink += i
}

//go:noinline
func bodyPanic(i int) {
	defer func() {
		if recover() != nil {
			sink++
		}
	}()
	panic("bench")
}

func main() {
	w, n := "pcall", 20000000
	if len(os.Args) > 1 {
		w = os.Args[1]
	}
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	fns := map[string]func(int){"plain": bodyPlain, "pcall": bodyDefer, "panic": bodyPanic}
	f, ok := fns[w]
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: go_defer plain|pcall|panic [n]")
		os.Exit(2)
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		f(i)
	}
	fmt.Printf("%s %.1f ns/op\n", w, float64(time.Since(t0).Nanoseconds())/float64(n))
}
