package pipeline

import (
	"strings"
	"testing"

	"github.com/vietstack/vietstack-api/pipeline/paste"
)

func TestWriteDOT(t *testing.T) {
	root := &paste.Node{Type: paste.TypeURLMap, Factory: "egg:Paste#urlmap", Section: "composite:main",
		Routes: []paste.Route{
			{Key: "/v2.1", Path: "/v2.1", Node: filter("oslo_middleware:Mark.factory", "a", 1, app("api", 2))},
			{Key: "/", Node: app("versions", 3)},
		}}
	root.Routes[0].Node.Local["admin_password"] = "hunter2"
	var closed []string
	var b strings.Builder
	if err := WriteDOT(&b, &paste.Graph{Root: root}, testRegistry(&closed)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"digraph pipeline {", `label="/v2.1"`, `filter:a\loslo_middleware:Mark.factory → mark`,
		`admin_password = ***`, `mark = a`, "client -> n1;"} {
		if !strings.Contains(out, want) {
			t.Errorf("DOT output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Error("DOT output leaks a password")
	}
}
