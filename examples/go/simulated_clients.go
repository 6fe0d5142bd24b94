package main

// Stand-ins for the game clients of a stage. A real client joins with the
// IVS broadcast SDK and the token the backend handed it; here the emulator's
// admin API (docs/emulator.md, "Admin API for simulated participants") plays
// them. A backend has nothing like this: leave it out when you copy.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// emulatorClients drives the simulated participants of the emulator at url.
type emulatorClients struct {
	url string
}

// join makes a client join its stage with token.
func (c emulatorClients) join(user, token string) error {
	body, err := json.Marshal(map[string]string{"token": token})
	if err != nil {
		return err
	}
	fmt.Printf("stage client: %s joins\n", user)
	return c.post("/_emulator/ivs/participants", body)
}

// act makes participant id publish, unpublish or leave.
func (c emulatorClients) act(user, id, action string) error {
	verbs := map[string]string{"publish": "publishes", "unpublish": "unpublishes", "leave": "leaves"}
	fmt.Printf("stage client: %s %s\n", user, verbs[action])
	return c.post("/_emulator/ivs/participants/"+url.PathEscape(id)+"/"+action, nil)
}

func (c emulatorClients) post(path string, body []byte) error {
	client := http.Client{Timeout: callTimeout}
	resp, err := client.Post(c.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("simulated client: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("simulated client: POST %s: %s %s", path, resp.Status, answer)
	}
	return nil
}
