#include "proxy/dns/upstream.h"

#include <ares.h>
#include <arpa/inet.h>

#include <chrono>
#include <cstring>
#include <random>

namespace cgfw::dns {

// One socket c-ares asked to watch. The descriptor belongs to c-ares: asio only waits on it.
struct Upstream::Watch {
  Watch(asio::io_context& io, int fd) : descriptor(io, fd) {}
  ~Watch() {
    descriptor.cancel();
    descriptor.release();
  }
  asio::posix::stream_descriptor descriptor;
  bool want_read = false;
  bool want_write = false;
  bool reading = false;
  bool writing = false;
};

struct Upstream::Pending {
  Upstream* owner;
  std::uint16_t upstream_id;
  std::uint16_t client_id;
  UpstreamCallback done;
};

Upstream::Upstream(asio::io_context& io) : io_(io), timer_(io), id_seed_(std::random_device{}()) {}

Result<std::unique_ptr<Upstream>> Upstream::make(asio::io_context& io,
                                                 const UpstreamConfig& config) {
  static const int library = ares_library_init(ARES_LIB_INIT_ALL);
  if (library != ARES_SUCCESS) return make_error(std::string("c-ares: ") + ares_strerror(library));

  std::unique_ptr<Upstream> upstream(new Upstream(io));
  ares_options options{};
  options.sock_state_cb = &Upstream::on_socket_state;
  options.sock_state_cb_data = upstream.get();
  options.timeout = config.timeout_ms;
  options.tries = config.tries;
  // Names are forwarded exactly as asked: no search domains, no hosts file, no rotation games.
  options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_STAYOPEN |
                  (config.use_tcp ? ARES_FLAG_USEVC : 0);
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  ares_channel channel = nullptr;
  int status = ares_init_options(&channel, &options, mask);
  if (status != ARES_SUCCESS)
    return make_error(std::string("cannot set up the DNS upstream: ") + ares_strerror(status));
  upstream->channel_ = channel;

  if (!config.servers.empty()) {
    std::string csv;
    for (const auto& server : config.servers) csv += (csv.empty() ? "" : ",") + server;
    status = ares_set_servers_ports_csv(channel, csv.c_str());
    if (status != ARES_SUCCESS)
      return make_error("bad --dns-upstream '" + csv + "': " + ares_strerror(status) +
                        " (expected ADDR, ADDR:PORT or [IPv6]:PORT)");
  }
  if (upstream->servers().empty())
    return make_error(
        "no DNS upstream: /etc/resolv.conf names no nameserver; give one with --dns-upstream");
  return upstream;
}

Upstream::~Upstream() {
  timer_.cancel();
  // ares_destroy calls every pending callback with ARES_EDESTRUCTION; they must not touch us.
  for (auto& [id, pending] : pending_) pending->done = nullptr;
  if (channel_) ares_destroy(static_cast<ares_channel>(channel_));
  watches_.clear();
}

std::vector<std::string> Upstream::servers() const {
  std::vector<std::string> out;
  ares_addr_port_node* list = nullptr;
  if (ares_get_servers_ports(static_cast<ares_channel>(channel_), &list) != ARES_SUCCESS)
    return out;
  for (auto* node = list; node; node = node->next) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(node->family, &node->addr, text, sizeof(text));
    int port = node->udp_port ? node->udp_port : 53;
    out.push_back(node->family == AF_INET6 ? "[" + std::string(text) + "]:" + std::to_string(port)
                                           : std::string(text) + ":" + std::to_string(port));
  }
  ares_free_data(list);
  return out;
}

void Upstream::on_socket_state(void* self, int fd, int readable, int writable) {
  auto* upstream = static_cast<Upstream*>(self);
  if (!readable && !writable) {
    upstream->watches_.erase(fd);
    return;
  }
  auto& watch = upstream->watches_[fd];
  if (!watch) watch = std::make_unique<Watch>(upstream->io_, fd);
  watch->want_read = readable;
  watch->want_write = writable;
  upstream->arm(fd);
}

void Upstream::arm(int fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  Watch& watch = *it->second;
  auto* channel = static_cast<ares_channel>(channel_);
  if (watch.want_read && !watch.reading) {
    watch.reading = true;
    watch.descriptor.async_wait(asio::posix::descriptor_base::wait_read,
                                [this, fd, channel](std::error_code error) {
                                  auto w = watches_.find(fd);
                                  if (w != watches_.end()) w->second->reading = false;
                                  if (error) return;
                                  ares_process_fd(channel, fd, ARES_SOCKET_BAD);
                                  arm(fd);
                                  rearm_timer();
                                });
  }
  if (watch.want_write && !watch.writing) {
    watch.writing = true;
    watch.descriptor.async_wait(asio::posix::descriptor_base::wait_write,
                                [this, fd, channel](std::error_code error) {
                                  auto w = watches_.find(fd);
                                  if (w != watches_.end()) w->second->writing = false;
                                  if (error) return;
                                  ares_process_fd(channel, ARES_SOCKET_BAD, fd);
                                  arm(fd);
                                  rearm_timer();
                                });
  }
}

void Upstream::rearm_timer() {
  if (pending_.empty()) {
    timer_.cancel();
    return;
  }
  timeval max{1, 0};
  timeval tv{};
  timeval* next = ares_timeout(static_cast<ares_channel>(channel_), &max, &tv);
  auto wait = std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec);
  timer_.expires_after(wait);
  timer_.async_wait([this](std::error_code error) {
    if (error) return;
    // No fd is ready: let c-ares retry or time out what is due.
    ares_process_fd(static_cast<ares_channel>(channel_), ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm_timer();
  });
}

std::uint16_t Upstream::free_id() {
  // A short LCG walk from a random seed: unpredictable enough for the upstream to match on, and
  // never one already in flight.
  for (int attempt = 0; attempt < 65536; ++attempt) {
    id_seed_ = id_seed_ * 1103515245u + 12345u;
    auto id = static_cast<std::uint16_t>(id_seed_ >> 16);
    if (!pending_.count(id)) return id;
  }
  return 0;
}

void Upstream::forward(std::span<const std::uint8_t> query, UpstreamCallback done) {
  if (query.size() < 12 || pending_.size() >= 60000) {
    done({}, query.size() < 12 ? "query too short" : "too many queries in flight");
    return;
  }
  std::vector<std::uint8_t> copy(query.begin(), query.end());
  auto pending = std::make_unique<Pending>();
  pending->owner = this;
  pending->client_id = static_cast<std::uint16_t>(copy[0] << 8 | copy[1]);
  pending->upstream_id = free_id();
  pending->done = std::move(done);
  copy[0] = static_cast<std::uint8_t>(pending->upstream_id >> 8);
  copy[1] = static_cast<std::uint8_t>(pending->upstream_id & 0xff);
  Pending* raw = pending.get();
  pending_[raw->upstream_id] = std::move(pending);
  ares_send(static_cast<ares_channel>(channel_), copy.data(), static_cast<int>(copy.size()),
            &Upstream::on_answer, raw);
  rearm_timer();
}

void Upstream::on_answer(void* arg, int status, int /*timeouts*/, unsigned char* answer,
                         int length) {
  auto* raw = static_cast<Pending*>(arg);
  Upstream* self = raw->owner;
  auto node = self->pending_.find(raw->upstream_id);
  if (node == self->pending_.end()) return;
  std::unique_ptr<Pending> pending = std::move(node->second);
  self->pending_.erase(node);
  if (!pending->done) return;  // destroying
  if (status != ARES_SUCCESS || !answer || length < 12) {
    pending->done({}, status == ARES_SUCCESS ? "empty answer" : ares_strerror(status));
    return;
  }
  std::vector<std::uint8_t> bytes(answer, answer + length);
  bytes[0] = static_cast<std::uint8_t>(pending->client_id >> 8);
  bytes[1] = static_cast<std::uint8_t>(pending->client_id & 0xff);
  pending->done(std::move(bytes), "");
}

}  // namespace cgfw::dns
