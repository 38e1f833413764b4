// Runs blocking work (snapshot reads and writes: disk I/O, fsync) on another
// executor and resumes the calling coroutine on its own executor with the result,
// so the io thread that carries every peer's heartbeats never waits for a disk.
// Exceptions thrown by the work are rethrown in the caller.
//
// GCC 12 mis-destroys class-type temporaries (lambdas with captures, aggregates)
// created inside a co_await expression: callers name the work in a local variable
// and pass it with std::move, and run_on itself is an ordinary function, not a
// coroutine, so it takes no coroutine parameter copies.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace raft::transport {

template <typename Executor, typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> run_on(Executor executor, F work) {
  using R = std::invoke_result_t<F&>;
  return boost::asio::co_spawn(
      executor,
      [work = std::move(work)]() mutable -> boost::asio::awaitable<R> { co_return work(); },
      boost::asio::use_awaitable);
}

}  // namespace raft::transport
