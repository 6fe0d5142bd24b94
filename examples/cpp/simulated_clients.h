// Stand-ins for the game clients of a stage. A real client joins with the
// IVS broadcast SDK and the token the backend handed it; here the
// emulator's admin API (docs/emulator.md, "Admin API for simulated
// participants") plays them, through libcurl. A backend has nothing like
// this: leave it out when you copy.
#pragma once

#include <string>

namespace example {

class SimulatedClients {
 public:
  // The emulator at `emulator_url` (GLS_EMULATOR_URL).
  explicit SimulatedClients(std::string emulator_url);
  ~SimulatedClients();
  SimulatedClients(const SimulatedClients&) = delete;
  SimulatedClients& operator=(const SimulatedClients&) = delete;

  // The client of `user` joins the stage with its token.
  void Join(const std::string& user, const std::string& token) const;
  // The client of `user` (participant `participant_id`) does `action`:
  // "publish", "unpublish" or "leave".
  void Act(const std::string& user, const std::string& participant_id, const std::string& action) const;

 private:
  // POSTs `body` (JSON) to the admin API; a Failure unless it answers 200.
  void Post(const std::string& path, const std::string& body) const;

  std::string emulator_url_;
};

}  // namespace example
