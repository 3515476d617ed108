import { describe, expect, it, vi } from "vitest";
import { copyText, textOf } from "../src/admin";

describe("copy buttons", () => {
  it("copy an input's value and an element's text", () => {
    const input = document.createElement("input");
    input.value = "fmk_abc";
    const pre = document.createElement("pre");
    pre.textContent = "{\n  \"a\": 1\n}";
    expect(textOf(input)).toBe("fmk_abc");
    expect(textOf(pre)).toBe("{\n  \"a\": 1\n}");
    expect(textOf(null)).toBe("");
  });

  it("say whether the clipboard took the text", async () => {
    const writeText = vi.fn().mockResolvedValue(undefined);
    expect(await copyText("secret", { writeText })).toBe(true);
    expect(writeText).toHaveBeenCalledWith("secret");
    expect(await copyText("secret", { writeText: vi.fn().mockRejectedValue(new Error("denied")) })).toBe(false);
    expect(await copyText("secret", undefined)).toBe(false);
  });
});
