// Command gopherlua runs an Argo CD resource health script in gopher-lua, the Lua engine Argo CD
// embeds, set up the way Argo CD sets it up for a health customization from argocd-cm
// (argo-cd util/lua/lua.go, VM.runLua and VM.ExecuteHealthLua): open libraries skipped, then only
// package, base and table opened; `obj` a table decoded from the live object; a 1 s deadline;
// the returned value must be a table whose status is one of Argo CD's health codes.
//
// Argo CD also opens a reduced `os` library (time and date only); this harness leaves it out, so a
// script that needs it fails here: ours must not depend on it.
//
// Usage: gopherlua SCRIPT < objects.json (a JSON array). Output: a JSON array, one entry per object,
// {"status": "...", "message": "...", "error": "..."}. Exit code 2 only when the input is unreadable.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	Error   string `json:"error,omitempty"`
}

// The codes of gitops-engine's health.HealthStatusCode that Argo CD accepts from a script.
var validCodes = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true, "Healthy": true, "Degraded": true, "Missing": true,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gopherlua SCRIPT < objects.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopherlua: %v\n", err)
		os.Exit(2)
	}
	var objects []map[string]interface{}
	if err := json.NewDecoder(os.Stdin).Decode(&objects); err != nil {
		fmt.Fprintf(os.Stderr, "gopherlua: reading a JSON array of objects from stdin: %v\n", err)
		os.Exit(2)
	}
	out := make([]verdict, 0, len(objects))
	for _, obj := range objects {
		out = append(out, health(obj, string(script)))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "gopherlua: writing the verdicts: %v\n", err)
		os.Exit(2)
	}
}

func health(obj map[string]interface{}, script string) verdict {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return verdict{Error: err.Error()}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decodeValue(l, obj))
	if err := l.DoString(script); err != nil {
		return verdict{Error: err.Error()}
	}
	returned := l.Get(-1)
	table, ok := returned.(*lua.LTable)
	if !ok {
		return verdict{Error: fmt.Sprintf("expect table output from Lua script, not %s", returned.Type())}
	}
	status, ok := table.RawGetString("status").(lua.LString)
	if !ok || !validCodes[string(status)] {
		// What Argo CD does with an unknown code (isValidHealthStatusCode).
		return verdict{Status: "Unknown", Message: "Lua returned an invalid health status"}
	}
	v := verdict{Status: string(status)}
	switch message := table.RawGetString("message").(type) {
	case lua.LString:
		v.Message = string(message)
	case *lua.LNilType:
	default:
		// Argo CD unmarshals the table into a struct with a string message: anything else fails.
		v.Error = fmt.Sprintf("message is a %s, not a string", message.Type())
	}
	return v
}

// decodeValue converts decoded JSON into Lua values as Argo CD's util/lua decodeValue does.
func decodeValue(l *lua.LState, value interface{}) lua.LValue {
	switch converted := value.(type) {
	case bool:
		return lua.LBool(converted)
	case float64:
		return lua.LNumber(converted)
	case string:
		return lua.LString(converted)
	case []interface{}:
		arr := l.CreateTable(len(converted), 0)
		for _, item := range converted {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]interface{}:
		tbl := l.CreateTable(0, len(converted))
		for key, item := range converted {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}
