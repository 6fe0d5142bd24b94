// Stand-ins for the game clients of a stage. A real client joins with the IVS
// broadcast SDK and the token the backend handed it; here the emulator's
// admin API (docs/emulator.md, "Admin API for simulated participants") plays
// them. A backend has nothing like this: leave it out when you copy.

const VERBS = { publish: "publishes", unpublish: "unpublishes", leave: "leaves" } as const;

export class SimulatedClients {
  constructor(private readonly emulatorUrl: string) {}

  // A client joins its stage with `token`.
  async join(user: string, token: string): Promise<void> {
    console.log(`stage client: ${user} joins`);
    await this.post("/_emulator/ivs/participants", { token });
  }

  // Participant `id` publishes, unpublishes or leaves.
  async act(user: string, id: string, action: keyof typeof VERBS): Promise<void> {
    console.log(`stage client: ${user} ${VERBS[action]}`);
    await this.post(`/_emulator/ivs/participants/${encodeURIComponent(id)}/${action}`);
  }

  private async post(path: string, body?: object): Promise<void> {
    const response = await fetch(this.emulatorUrl + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    if (!response.ok) {
      throw new Error(`simulated client: POST ${path}: ${response.status} ${await response.text()}`);
    }
  }
}
