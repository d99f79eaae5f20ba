package main

import "fmt"

func lookup(orders map[string]int, id string) int {
	var m map[string]int
	if id == "x-3" {
		m["missing"] = 1
	}
	return orders[id]
}

func main() {
	fmt.Println("go worker: loading order x-3")
	lookup(map[string]int{"a": 1}, "x-3")
}
