#include "proxy/dns/query_handler.h"

#include <arpa/inet.h>

#include <cmath>
#include <map>

#include "policy/matcher.h"

namespace cgfw::dns {
namespace {

constexpr std::size_t kMaxUdpPayloadWithoutEdns = 512;

std::string address_text(int family, const Address& address) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, address.data(), text, sizeof(text));
  return text;
}

double label_entropy(const std::string& label) {
  std::map<char, int> counts;
  for (char c : label) ++counts[c];
  double entropy = 0;
  for (auto [c, n] : counts) {
    double p = static_cast<double>(n) / static_cast<double>(label.size());
    entropy -= p * std::log2(p);
  }
  return entropy;
}

// A response the UDP client can take: as is, or its header and question with TC set.
std::vector<std::uint8_t> fit_for_udp(std::vector<std::uint8_t> response,
                                      std::span<const std::uint8_t> query, const QueryInfo& info) {
  std::size_t limit =
      info.has_edns ? std::max<std::size_t>(info.edns_udp_size, 512) : kMaxUdpPayloadWithoutEdns;
  if (response.size() <= limit) return response;
  auto truncated = make_error_response(query, Rcode::noerror);
  if (truncated.size() > 2) truncated[2] |= 0x02;  // TC
  return truncated;
}

}  // namespace

std::string qtype_name(std::uint16_t qtype) {
  switch (qtype) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    case 255:
      return "ANY";
    default:
      return "TYPE" + std::to_string(qtype);
  }
}

std::optional<std::string> suspicious_name(const std::string& name) {
  if (name.size() > 150) return "name of " + std::to_string(name.size()) + " characters";
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    std::string label = name.substr(start, end - start);
    if (label.size() >= 40) return "label of " + std::to_string(label.size()) + " characters";
    if (label.size() >= 20 && label_entropy(label) > 3.8)
      return "high-entropy label '" + label + "'";
    start = end + 1;
  }
  return std::nullopt;
}

void QueryHandler::handle(std::span<const std::uint8_t> query, const ClientInfo& client,
                          bool over_tcp, Respond respond) {
  DnsObservation observation;
  observation.client = client;
  observation.transport = over_tcp ? "tcp" : "udp";

  auto parsed = parse_query(query);
  if (auto* error = std::get_if<QueryError>(&parsed)) {
    observation.reason = "malformed query: " + to_string(*error);
    // A response sent to us is never answered: answering answers can make two responders
    // bounce messages forever.
    if (*error == QueryError::not_a_query) {
      observe_(observation);
      respond({});
      return;
    }
    bool bad_name = *error == QueryError::bad_name;
    observe_(observation);  // recorded before the client hears of it
    respond(make_error_response(query, bad_name ? Rcode::refused : Rcode::formerr));
    return;
  }
  const QueryInfo& info = std::get<QueryInfo>(parsed);
  observation.name = info.question.name;
  observation.qtype = qtype_name(info.question.qtype);
  // Deny wins: a denied name is refused even when an allow rule names it too.
  if (const policy::Rule* deny = policy::denied_name(policy_, info.question.name)) {
    observation.denied = true;
    observation.reason = policy::denial_reason(*deny);
  } else {
    observation.rule = policy::match_domain(policy_, info.question.name);
    if (!observation.rule) observation.rule = policy::match_url_host(policy_, info.question.name);
    if (!observation.rule && !policy_.default_allow)
      observation.reason = "no rule allows this name";
  }
  if (observation.rule && observation.rule->kind == policy::RuleKind::wildcard)
    observation.suspicious = suspicious_name(info.question.name);

  if (!observation.reason.empty()) {
    if (!policy_.audit) {
      observe_(observation);
      respond(make_error_response(query, settings_.block_rcode));
      return;
    }
    observation.would_block = true;
  }
  std::vector<std::uint8_t> original(query.begin(), query.end());
  Upstream& upstream = over_tcp ? over_tcp_ : over_udp_;
  upstream.forward(query, [this, info, observation, over_tcp, original = std::move(original),
                           respond](std::vector<std::uint8_t> answer, std::string error) mutable {
    on_answer(info, std::move(observation), over_tcp, std::move(original), std::move(answer), error,
              respond);
  });
}

void QueryHandler::on_answer(const QueryInfo& query, DnsObservation observation, bool over_tcp,
                             std::vector<std::uint8_t> original_query,
                             std::vector<std::uint8_t> answer, const std::string& error,
                             const Respond& respond) {
  auto fail = [&](const std::string& why) {
    observation.allowed = false;
    observation.reason = why;
    observe_(observation);
    respond(make_error_response(original_query, Rcode::servfail));
  };
  if (!error.empty()) return fail("upstream DNS failed: " + error);
  auto parsed = parse_answer(answer, query.question);
  if (auto* bad = std::get_if<AnswerError>(&parsed))
    return fail("upstream answer refused: " + to_string(*bad));
  const AnswerInfo& info = std::get<AnswerInfo>(parsed);

  ChainResult chain = addresses_for(info, query.question.name);
  // Deny wins along the whole chain: an allowed name whose CNAME leads to a denied one would
  // otherwise hand out the denied name's addresses. The question itself is asked again: a deny
  // rule may have been added (`cgfw ctl`) while the query was upstream.
  for (std::size_t i = 0; i < chain.chain.size(); ++i) {
    const policy::Rule* deny = policy::denied_name(policy_, chain.chain[i]);
    if (!deny) continue;
    observation.denied = true;
    observation.rule = nullptr;  // nothing of this answer is learned
    observation.reason =
        (i == 0 ? "" : "CNAME " + chain.chain[i] + ": ") + policy::denial_reason(*deny);
    if (!policy_.audit) {
      observation.allowed = false;
      observe_(observation);
      respond(make_error_response(original_query, settings_.block_rcode));
      return;
    }
    observation.would_block = true;
    break;
  }
  for (std::size_t i = 1; i < chain.chain.size(); ++i)
    observation.answers.push_back("CNAME " + chain.chain[i]);
  std::vector<std::string> not_learned;
  auto now = LearnedTable::Clock::now();
  const std::vector<std::string> via(
      chain.chain.size() > 1 ? chain.chain.begin() + 1 : chain.chain.end(), chain.chain.end());
  for (const auto& learned : chain.addresses) {
    std::string text = address_text(learned.family, learned.address);
    observation.answers.push_back(text);
    // Audit mode with the name not allowed, or allowed by default (deny-list mode, where the
    // kernel passes what no deny rule names): nothing to learn.
    if (!observation.rule) continue;
    if (is_internal_address(learned.family, learned.address)) {
      // DNS never opens internal addresses; an explicit IP rule still can (the LPM map).
      not_learned.push_back(text);
      continue;
    }
    // Every rule naming the host contributes its ports (a domain rule for :80 and a URL rule
    // for https, say).
    Status put = Ok{};
    for (const policy::Rule* rule : policy::rules_for_name(policy_, query.question.name)) {
      put = learned_.learn(learned.family, learned.address, *rule, learned.ttl, query.question.name,
                           now, via);
      if (!put) break;
    }
    if (!put) {
      if (policy_.audit) {
        not_learned.push_back(text + " (" + put.error().message + ")");
        continue;
      }
      // Fail closed: an answer whose addresses cannot be allowed is not released.
      return fail("cannot allow " + text + ": " + put.error().message);
    }
  }
  observation.allowed = true;
  if (!not_learned.empty()) {
    std::string list;
    for (const auto& a : not_learned) list += (list.empty() ? "" : ", ") + a;
    observation.reason = (observation.reason.empty() ? "" : observation.reason + "; ") +
                         "internal addresses not opened by DNS: " + list;
  }
  observe_(observation);
  respond(over_tcp ? std::move(answer) : fit_for_udp(std::move(answer), original_query, query));
}

}  // namespace cgfw::dns
