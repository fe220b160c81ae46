import Foundation
import Inference
import TestSupport
import Tokenizers
import XCTest
@testable import Pipeline

/// A conversation with the real SmolLM2 (greedy): the cache kept between turns gives the same
/// answers as running the whole conversation afresh, and a full context drops the oldest turns.
final class ChatSessionTests: XCTestCase {
    func session(ctx: Int, system: String? = nil) throws -> ChatSession {
        // f32 activations: the prompt (a batch) and the decoding (one token at a time) then
        // differ only by rounding, so a fresh run over a whole conversation is comparable.
        let loaded = try LoadedModel(try Fixtures.smolLM2(),
                                     settings: .init(threads: 2, quantizedActivations: false, context: ctx, kvCache: .f32))
        return try XCTUnwrap(ChatSession(generator: loaded.generator(sampler: Sampler()), tokenizer: try loaded.tokenizer(), system: system))
    }

    func testSecondTurnRunsOnlyItsOwnTokensAndAnswersAsAFreshRun() throws {
        let chat = try session(ctx: 1024)
        XCTAssertEqual(chat.format, .chatML)
        let first = try chat.reply("What is the capital of France?", maxTokens: 32)
        XCTAssertTrue(first.text.contains("Paris"), first.text)
        XCTAssertEqual(first.result.stopReason, .eos, "ends on <|im_end|>")
        let used = chat.contextUsed
        let second = try chat.reply("And of Italy?", maxTokens: 32)
        let turn2 = chat.format.turn("And of Italy?", system: nil, first: false, tokenizer: chat.tokenizer)
        XCTAssertEqual(second.result.promptTokens, turn2.count + 1, "the new turn and the held-back <|im_end|>, nothing before")
        XCTAssertEqual(chat.contextUsed, used + turn2.count + 1 + second.result.ids.count)
        XCTAssertTrue(second.text.contains("Rome"), second.text)

        // The same conversation as one prompt, in a fresh cache: the same second answer.
        let end = try XCTUnwrap(chat.format.endOfTurn(chat.tokenizer))
        let whole = chat.format.turn("What is the capital of France?", system: nil, first: true, tokenizer: chat.tokenizer)
            + first.result.ids + [end] + turn2
        let fresh = try session(ctx: 1024)
        let again = try fresh.generator.generate(whole, maxTokens: 32)
        XCTAssertEqual(again.ids, second.result.ids)

        chat.reset()
        XCTAssertEqual(chat.contextUsed, 0)
        XCTAssertEqual(try chat.reply("What is the capital of France?", maxTokens: 32).result.ids, first.result.ids)
    }

    func testAFullContextDropsTheOldestTurnsKeepingTheSystemPrompt() throws {
        let chat = try session(ctx: 80, system: "You are terse.")
        var dropped = 0
        for q in ["Name a colour.", "Name a fruit.", "Name an animal.", "Name a country.", "Name a city."] {
            let r = try chat.reply(q, maxTokens: 24)
            dropped += r.droppedTurns
            XCTAssertLessThanOrEqual(chat.contextUsed, chat.contextCapacity)
        }
        XCTAssertGreaterThan(dropped, 0, "five turns do not fit in 80 tokens")
        XCTAssertEqual(chat.turns.count, 5 - dropped)
        XCTAssertEqual(chat.turns.last?.user, "Name a city.")
        // What the cache holds is the system prompt and the kept turns: the next answer is the
        // one a fresh run over exactly those ids gives.
        let end = try XCTUnwrap(chat.format.endOfTurn(chat.tokenizer))
        var ids: [Int] = []
        for (i, t) in chat.turns.enumerated() {
            ids += chat.format.turn(t.user, system: "You are terse.", first: i == 0, tokenizer: chat.tokenizer) + t.answer + [end]
        }
        // Not yet run: the last answer's end of turn if it ended on one, else its last token and
        // the end of turn the next turn adds.
        XCTAssertEqual(chat.contextUsed, ids.count - (chat.generator.endedOnStopToken ? 1 : 2), "the cache holds the system prompt and every kept turn")
    }

    func testATurnLongerThanTheContextIsRefused() throws {
        let chat = try session(ctx: 32)
        XCTAssertThrowsError(try chat.reply(String(repeating: "word ", count: 100), maxTokens: 8)) { e in
            XCTAssertTrue("\(e)".contains("--ctx"), "\(e)")
        }
    }
}
