package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mlserve/mlserve/api"
	"github.com/mlserve/mlserve/internal/config"
	"github.com/mlserve/mlserve/internal/model"
	"github.com/mlserve/mlserve/internal/monitoring"
	"github.com/mlserve/mlserve/internal/server"
)

// spamServer serves models/spam/v1 with its model.yaml, policy changed to
// policy, monitoring on.
func spamServer(t *testing.T, policy string) (*server.Server, *prometheus.Registry) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "models", "spam", "v1", "model.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if policy != "" {
		b = append(b, []byte("\nood_policy: "+policy+"\n")...)
	}
	man, _, err := model.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	m := loadSklearn(t, filepath.Join("..", "..", "models", "spam", "v1", "model.joblib"))
	reg := prometheus.NewRegistry()
	met, err := monitoring.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := monitoring.New(config.Monitoring{}, met, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Track("spam-v1", m.Labels(), man); err != nil {
		t.Fatal(err)
	}
	return newServer(t, &oneModel{id: "spam-v1", m: m, man: man}, server.Options{Monitor: mon}), reg
}

// inDistribution is an e-mail of a typical length (the reference has none
// under 500 characters).
const inDistribution = "From: alice@example.com\nTo: team@example.com\nDate: Tue, 13 Aug 2002 10:21:07 +0100\n" +
	"Message-ID: <20020813092107.GA1234@example.com>\nSubject: Re: quarterly planning meeting\n\nHi all,\n\nThanks for the notes from yesterday. " +
	"I went through the numbers again and the budget for the next quarter looks fine to me, but we should " +
	"double check the travel costs before Friday. Can someone send the updated spreadsheet to the list? " +
	"I will be in the office on Thursday afternoon if anyone wants to go over it together. Also, the build " +
	"server was down this morning; Bob restarted it and it seems fine now. On the list question: yes, please " +
	"keep the discussion on the list rather than in private mail, so that the people who were not at the meeting " +
	"can follow it. I have also attached the minutes from last week, with the two action items we forgot.\n\nCheers,\nAlice\n" +
	"\n> On Mon, Aug 12, 2002 at 05:14:33PM +0100, Bob wrote:\n> Can we move the meeting to Wednesday? I have a " +
	"dentist appointment on Tuesday morning and will probably be late.\n"

const foreign = "Subject: Grüße aus München\n\nSehr geehrte Damen und Herren, vielen Dank für Ihre schnelle Antwort " +
	"auf meine Anfrage. Leider konnte ich den Termin am Donnerstag nicht wahrnehmen, weil mein Zug ausgefallen ist. " +
	"Könnten wir das Treffen auf nächste Woche verschieben? Ich hätte am Mittwochnachmittag Zeit. Die Unterlagen " +
	"für das Projekt habe ich Ihnen bereits gestern per Post zugeschickt. Bitte beachten Sie, dass sich unsere " +
	"Öffnungszeiten im Dezember geändert haben. Mit freundlichen Grüßen und einen schönen Abend noch."

// TestOODFlag: every answer of a version with a reference carries ood; a
// German e-mail is flagged (by its unknown words), an ordinary one is not;
// both are counted.
func TestOODFlag(t *testing.T) {
	s, reg := spamServer(t, "")
	body, _ := json.Marshal(map[string]any{"texts": []string{inDistribution, foreign}, "model_version": "spam-v1"})
	w := do(t, s, call{method: "POST", path: "/batch-predict", body: string(body)})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var r api.BatchPredictResponse
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	in, out := r.Predictions[0].OOD, r.Predictions[1].OOD
	if in == nil || out == nil {
		t.Fatalf("no ood: %s", w.Body)
	}
	if in.Flag || in.Score > 0.9 {
		t.Errorf("in-distribution e-mail: %+v", in)
	}
	if !out.Flag || out.Signal != "oov_rate" || out.Score < 0.99 {
		t.Errorf("German e-mail: %+v", out)
	}
	one := predictExplain(t, s, `{"text":"great blender, crushes ice","model_version":"spam-v1"}`)
	if one.OOD == nil || !one.OOD.Flag || one.OOD.Signal != "text_length" {
		t.Errorf("a review: %+v", one.OOD)
	}
	for outcome, want := range map[string]float64{"scored": 3, "flagged": 2} {
		if got := oodCount(t, reg, outcome); got != want {
			t.Errorf("mlserve_ood_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}

// oodCount is mlserve_ood_total{model="spam",version="v1",outcome}.
func oodCount(t *testing.T, reg prometheus.Gatherer, outcome string) float64 {
	t.Helper()
	return testutil.ToFloat64(counter(t, reg, "mlserve_ood_total", map[string]string{"model": "spam", "version": "v1", "outcome": outcome}))
}

// TestOODReject: with ood_policy reject a flagged text is a 422 naming the
// score and the signal; an in-distribution text is answered.
func TestOODReject(t *testing.T) {
	s, reg := spamServer(t, "reject")
	body, _ := json.Marshal(map[string]any{"text": foreign, "model_version": "spam-v1"})
	w := do(t, s, call{method: "POST", path: "/predict", body: string(body)})
	if w.Code != 422 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	p := problemOf(t, w)
	if !strings.Contains(p.Detail, "out of distribution") || !strings.Contains(p.Detail, "oov_rate") ||
		len(p.Errors) != 1 || p.Errors[0].Location != "body.text" {
		t.Errorf("problem %+v", p)
	}
	if score, ok := p.Errors[0].Value.(float64); !ok || score < 0.99 {
		t.Errorf("problem value %v, want the score", p.Errors[0].Value)
	}
	body, _ = json.Marshal(map[string]any{"texts": []string{inDistribution, foreign}, "model_version": "spam-v1"})
	w = do(t, s, call{method: "POST", path: "/batch-predict", body: string(body)})
	if w.Code != 422 || problemOf(t, w).Errors[0].Location != "body.texts[1]" {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
	body, _ = json.Marshal(map[string]any{"text": inDistribution, "model_version": "spam-v1"})
	if r := predictExplain(t, s, string(body)); r.OOD == nil || r.OOD.Flag {
		t.Fatalf("in distribution: %+v", r.OOD)
	}
	if got := oodCount(t, reg, "rejected"); got != 2 {
		t.Errorf("rejected %v, want 2", got)
	}
}

// TestManifestOODPolicy: a policy or level the server cannot apply fails
// the manifest, so the version never serves with it.
func TestManifestOODPolicy(t *testing.T) {
	for _, y := range []string{"ood_policy: drop\n", "ood_alpha: 0\n", "ood_alpha: 1.5\n"} {
		if _, _, err := model.ParseManifest([]byte(y)); err == nil {
			t.Errorf("%q accepted", y)
		}
	}
	m, warnings, err := model.ParseManifest([]byte("ood_policy: reject\nood_alpha: 0.001\n"))
	if err != nil || len(warnings) != 0 || m.OODPolicy != "reject" || *m.OODAlpha != 0.001 {
		t.Fatalf("%+v %v %v", m, warnings, err)
	}
}
