#include "src/http/client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <map>
#include <mutex>
#include <vector>

namespace raft::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {
// Only connections used recently are reused, so a server's idle timeout never closes
// one under us mid-request.
constexpr std::chrono::seconds kMaxIdle{2};
}  // namespace

struct Client::State : std::enable_shared_from_this<Client::State> {
  struct Idle {
    std::unique_ptr<beast::tcp_stream> stream;
    std::chrono::steady_clock::time_point since;
  };

  State(net::io_context& io_context, ClientOptions opts) : io(io_context), options(opts) {}

  std::unique_ptr<beast::tcp_stream> take_idle(const std::string& address) {
    std::lock_guard lock(mutex);
    auto& pool = idle[address];
    const auto now = std::chrono::steady_clock::now();
    while (!pool.empty()) {
      Idle entry = std::move(pool.back());
      pool.pop_back();
      if (now - entry.since < kMaxIdle) return std::move(entry.stream);
    }
    return nullptr;
  }

  void give_back(const std::string& address, std::unique_ptr<beast::tcp_stream> stream) {
    std::lock_guard lock(mutex);
    if (closed) return;
    auto& pool = idle[address];
    if (pool.size() < options.max_idle_per_address) {
      pool.push_back(Idle{std::move(stream), std::chrono::steady_clock::now()});
    }
  }

  net::io_context& io;
  ClientOptions options;
  std::mutex mutex;
  std::map<std::string, std::vector<Idle>> idle;
  bool closed = false;
};

namespace {

// One request's life: connect (unless reusing), write, read, hand back.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<Client::State> client, std::string address, Request request, Client::Done done)
      : client_(std::move(client)), address_(std::move(address)), request_(std::move(request)),
        done_(std::move(done)), resolver_(net::make_strand(client_->io)) {}

  void start() {
    stream_ = client_->take_idle(address_);
    reused_ = stream_ != nullptr;
    if (stream_) return write();
    const std::size_t colon = address_.rfind(':');
    if (colon == std::string::npos) return fail("bad address '" + address_ + "'", false);
    stream_ = std::make_unique<beast::tcp_stream>(resolver_.get_executor());
    resolver_.async_resolve(address_.substr(0, colon), address_.substr(colon + 1),
                            [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type results) {
                              if (ec) return self->fail("cannot resolve " + self->address_ + ": " + ec.message(), false);
                              self->stream_->expires_after(self->client_->options.connect_timeout);
                              self->stream_->async_connect(
                                  results, [self](beast::error_code connect_ec, const tcp::endpoint&) {
                                    if (connect_ec) {
                                      return self->fail("cannot connect to " + self->address_ + ": " + connect_ec.message(), false);
                                    }
                                    self->write();
                                  });
                            });
  }

 private:
  void write() {
    request_.prepare_payload();
    stream_->expires_after(client_->options.request_timeout);
    beast_http::async_write(*stream_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      // A write error on a fresh connection may still have delivered some bytes;
      // only a connect failure is a certain "not sent".
      if (ec) return self->fail("sending to " + self->address_ + " failed: " + ec.message(), true);
      self->read();
    });
  }

  void read() {
    parser_.body_limit(client_->options.body_limit_bytes);
    beast_http::async_read(*stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail("no answer from " + self->address_ + ": " + ec.message(), true);
      Response response = self->parser_.release();
      const bool keep = response.keep_alive();
      if (keep) {
        self->stream_->expires_never();
        self->client_->give_back(self->address_, std::move(self->stream_));
      }
      self->done_(&response, nullptr);
    });
  }

  void fail(const std::string& message, bool maybe_sent) {
    ClientError error{message, maybe_sent};
    done_(nullptr, &error);
  }

  std::shared_ptr<Client::State> client_;
  std::string address_;
  Request request_;
  Client::Done done_;
  tcp::resolver resolver_;
  std::unique_ptr<beast::tcp_stream> stream_;
  bool reused_ = false;
  beast::flat_buffer buffer_;
  beast_http::response_parser<beast_http::string_body> parser_;
};

}  // namespace

Client::Client(net::io_context& io, ClientOptions options) : state_(std::make_shared<State>(io, options)) {}

Client::~Client() { close(); }

void Client::send(const std::string& address, Request request, Done done) {
  {
    std::lock_guard lock(state_->mutex);
    if (state_->closed) {
      ClientError error{"client closed", false};
      done(nullptr, &error);
      return;
    }
  }
  std::make_shared<Exchange>(state_, address, std::move(request), std::move(done))->start();
}

void Client::close() {
  std::lock_guard lock(state_->mutex);
  state_->closed = true;
  state_->idle.clear();
}

}  // namespace raft::http
