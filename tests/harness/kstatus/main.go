// Command kstatus prints the kstatus verdict of Kubernetes objects, computed by the kstatus
// library itself (sigs.k8s.io/cli-utils/pkg/kstatus/status), the code Flux and `kubectl wait`-like
// tools use to decide whether an object is Current, InProgress or Failed.
//
// Input on stdin: a JSON array of objects. Output on stdout: a JSON array, one entry per object,
// {"status": "...", "message": "...", "error": "..."}. The exit code is non-zero only when the
// input cannot be read.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
}

func main() {
	var objects []map[string]interface{}
	decoder := json.NewDecoder(os.Stdin)
	decoder.UseNumber()
	if err := decoder.Decode(&objects); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: reading a JSON array of objects from stdin: %v\n", err)
		os.Exit(2)
	}
	out := make([]verdict, 0, len(objects))
	for _, raw := range objects {
		// The apiserver's client decodes integers as int64; json.Number keeps that (a float64
		// generation would make kstatus report an error instead of a verdict).
		obj := &unstructured.Unstructured{Object: numbersToInt64(raw).(map[string]interface{})}
		result, err := status.Compute(obj)
		v := verdict{}
		if err != nil {
			v.Error = err.Error()
		} else {
			v.Status = result.Status.String()
			v.Message = result.Message
		}
		out = append(out, v)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: writing the verdicts: %v\n", err)
		os.Exit(2)
	}
}

func numbersToInt64(value interface{}) interface{} {
	switch v := value.(type) {
	case map[string]interface{}:
		for key, item := range v {
			v[key] = numbersToInt64(item)
		}
		return v
	case []interface{}:
		for i, item := range v {
			v[i] = numbersToInt64(item)
		}
		return v
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	}
	return value
}
