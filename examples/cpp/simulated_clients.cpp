// The simulated game clients of a stage, through the emulator's admin API
// (simulated_clients.h).
#include "simulated_clients.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>

#include <curl/curl.h>

#include "gateway_call.h"

namespace example {
namespace {

// Keeps the first 4 KiB of the answer, for the error message.
size_t KeepAnswer(char* data, size_t size, size_t count, void* answer) {
  auto& kept = *static_cast<std::string*>(answer);
  kept.append(data, std::min(size * count, kept.size() < 4096 ? 4096 - kept.size() : 0));
  return size * count;
}

// Tokens and participant IDs are plain ASCII, but a JSON string is quoted all the same.
std::string JsonString(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

SimulatedClients::SimulatedClients(std::string emulator_url) : emulator_url_(std::move(emulator_url)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

SimulatedClients::~SimulatedClients() { curl_global_cleanup(); }

void SimulatedClients::Join(const std::string& user, const std::string& token) const {
  std::cout << "stage client: " << user << " joins\n";
  Post("/_emulator/ivs/participants", "{\"token\":" + JsonString(token) + "}");
}

void SimulatedClients::Act(const std::string& user, const std::string& participant_id, const std::string& action) const {
  static const std::map<std::string, std::string> verbs = {
      {"publish", "publishes"}, {"unpublish", "unpublishes"}, {"leave", "leaves"}};
  std::cout << "stage client: " << user << " " << verbs.at(action) << "\n";
  std::unique_ptr<char, decltype(&curl_free)> id(
      curl_easy_escape(nullptr, participant_id.c_str(), static_cast<int>(participant_id.size())), curl_free);
  if (!id) throw Failure("simulated client: cannot escape " + participant_id);
  Post("/_emulator/ivs/participants/" + std::string(id.get()) + "/" + action, "{}");
}

void SimulatedClients::Post(const std::string& path, const std::string& body) const {
  const std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Failure("simulated client: curl_easy_init failed");
  const std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"), curl_slist_free_all);
  const std::string url = emulator_url_ + path;
  std::string answer;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a threaded program
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, KeepAnswer);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &answer);
  if (const CURLcode result = curl_easy_perform(curl.get()); result != CURLE_OK) {
    throw Failure("simulated client: POST " + path + ": " + curl_easy_strerror(result));
  }
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) throw Failure("simulated client: POST " + path + ": " + std::to_string(status) + " " + answer);
}

}  // namespace example
