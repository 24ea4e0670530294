using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using TorchSharp;

namespace MedicalTransfer.Weights
{
    /// <summary>
    /// A restricted unpickler for the <c>data.pkl</c> of a PyTorch zip checkpoint and the pickles of a legacy
    /// (pre-1.6) one. It never imports or calls anything: the only globals it resolves are the handful that
    /// rebuilding a state_dict needs (<c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c> and,
    /// in files from PyTorch before 0.4, <c>torch._utils._rebuild_tensor</c>,
    /// <c>torch._utils._rebuild_parameter</c>, the <c>torch.*Storage</c> types), each mapped to a
    /// .NET value; every other global is refused when its opcode is read, before anything could use it.
    /// Tensors come back as <see cref="PickledTensor"/> descriptors: no tensor memory is allocated here.
    /// </summary>
    /// <remarks>
    /// Every length read from the stream is checked against the bytes that remain before anything is
    /// allocated, so a hostile pickle cannot make the reader allocate more than the pickle's own size.
    /// </remarks>
    internal sealed class PickleReader
    {
        /// <summary>
        /// The most values a pickle may push (and so the most memo entries, marks or container items it can
        /// make): a state_dict pushes about 20 per tensor, so this allows 500,000 tensors while capping the
        /// memory a hostile pickle of repeated memo reads could make the reader use.
        /// </summary>
        private const int MaxItems = 10_000_000;

        private readonly byte[] data;
        private readonly string file;
        private readonly bool legacy;
        private readonly List<object?> stack = new();
        private readonly List<int> marks = new();
        private readonly Dictionary<long, object?> memo = new();
        private int position;
        private long pushes;

        private PickleReader(byte[] data, string file, int start = 0, bool legacy = false)
        {
            this.data = data;
            this.file = file;
            this.legacy = legacy;
            position = start;
        }

        /// <summary>Unpickles <paramref name="data"/> and returns the top-level object.</summary>
        /// <param name="data">The pickle bytes.</param>
        /// <param name="file">The checkpoint's path, for messages.</param>
        /// <returns>The top-level object: a <see cref="PickledDict"/> for a state_dict.</returns>
        public static object? Load(byte[] data, string file) => new PickleReader(data, file).Run();

        /// <summary>
        /// Unpickles the pickle that starts at <paramref name="start"/> of a legacy (pre-1.6) PyTorch file, which
        /// holds several pickles one after the other, and says where it ended. Persistent ids are the legacy
        /// six-tuples ('storage', type, key, location, numel, view_metadata).
        /// </summary>
        public static object? LoadLegacy(byte[] data, int start, string file, out int end)
        {
            var reader = new PickleReader(data, file, start, legacy: true);
            object? result = reader.Run();
            end = reader.position;
            return result;
        }

        private object? Run()
        {
            while (true)
            {
                if (position >= data.Length)
                {
                    throw Malformed("it ends before the STOP opcode (the file is truncated or corrupt)");
                }

                int opcodeOffset = position;
                byte op = data[position++];
                switch (op)
                {
                    case 0x80: // PROTO
                        int protocol = ReadByte();
                        if (protocol > 5)
                        {
                            throw Malformed($"it uses pickle protocol {protocol}; protocols 2 to 5 are supported");
                        }

                        break;
                    case 0x95: // FRAME: a length hint only
                        Take(8);
                        break;
                    case (byte)'.': // STOP
                        if (stack.Count != 1 || marks.Count != 0)
                        {
                            throw Malformed($"its STOP opcode at offset {opcodeOffset} leaves {stack.Count} values on the stack");
                        }

                        return stack[0];
                    case (byte)'(': // MARK
                        marks.Add(stack.Count);
                        break;
                    case (byte)'1': // POP_MARK
                        PopMark();
                        break;
                    case (byte)'0': // POP
                        Pop();
                        break;
                    case (byte)'2': // DUP
                        Push(Peek());
                        break;
                    case (byte)')':
                        Push(new PickledTuple(Array.Empty<object?>()));
                        break;
                    case (byte)']':
                        Push(new PickledList());
                        break;
                    case (byte)'}':
                        Push(new PickledDict(isOrderedDict: false));
                        break;
                    case (byte)'t': // TUPLE
                        Push(new PickledTuple(PopMark().ToArray()));
                        break;
                    case 0x85: // TUPLE1
                        Push(new PickledTuple(new[] { Pop() }));
                        break;
                    case 0x86: // TUPLE2
                    {
                        object? b = Pop();
                        object? a = Pop();
                        Push(new PickledTuple(new[] { a, b }));
                        break;
                    }

                    case 0x87: // TUPLE3
                    {
                        object? c = Pop();
                        object? b = Pop();
                        object? a = Pop();
                        Push(new PickledTuple(new[] { a, b, c }));
                        break;
                    }

                    case (byte)'l': // LIST
                    {
                        var list = new PickledList();
                        list.Items.AddRange(PopMark());
                        Push(list);
                        break;
                    }

                    case (byte)'d': // DICT
                    {
                        var dict = new PickledDict(isOrderedDict: false);
                        AddPairs(dict, PopMark(), opcodeOffset);
                        Push(dict);
                        break;
                    }

                    case (byte)'a': // APPEND
                    {
                        object? value = Pop();
                        ExpectList(Peek(), opcodeOffset).Items.Add(value);
                        break;
                    }

                    case (byte)'e': // APPENDS
                    {
                        List<object?> values = PopMark();
                        ExpectList(Peek(), opcodeOffset).Items.AddRange(values);
                        break;
                    }

                    case (byte)'s': // SETITEM
                    {
                        object? value = Pop();
                        object? key = Pop();
                        ExpectDict(Peek(), opcodeOffset).Items.Add(new KeyValuePair<object?, object?>(key, value));
                        break;
                    }

                    case (byte)'u': // SETITEMS
                    {
                        List<object?> items = PopMark();
                        AddPairs(ExpectDict(Peek(), opcodeOffset), items, opcodeOffset);
                        break;
                    }

                    case (byte)'N':
                        Push(null);
                        break;
                    case 0x88:
                        Push(true);
                        break;
                    case 0x89:
                        Push(false);
                        break;
                    case (byte)'J': // BININT
                        Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4)));
                        break;
                    case (byte)'K': // BININT1
                        Push((long)ReadByte());
                        break;
                    case (byte)'M': // BININT2
                        Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2)));
                        break;
                    case 0x8a: // LONG1
                        Push(ReadLong(ReadByte()));
                        break;
                    case 0x8b: // LONG4
                        Push(ReadLong(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))));
                        break;
                    case (byte)'G': // BINFLOAT, big-endian
                        Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8)));
                        break;
                    case (byte)'X': // BINUNICODE
                        Push(ReadUtf8(ReadLength((long)BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))));
                        break;
                    case 0x8c: // SHORT_BINUNICODE
                        Push(ReadUtf8(ReadByte()));
                        break;
                    case 0x8d: // BINUNICODE8
                        Push(ReadUtf8(ReadLength64(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))));
                        break;
                    case (byte)'T': // BINSTRING (Python 2 str)
                        Push(Encoding.Latin1.GetString(Take(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))));
                        break;
                    case (byte)'U': // SHORT_BINSTRING
                        Push(Encoding.Latin1.GetString(Take(ReadByte())));
                        break;
                    case (byte)'B': // BINBYTES
                        Push(Take(ReadLength((long)BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))).ToArray());
                        break;
                    case (byte)'C': // SHORT_BINBYTES
                        Push(Take(ReadByte()).ToArray());
                        break;
                    case 0x8e: // BINBYTES8
                        Push(Take(ReadLength64(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)))).ToArray());
                        break;
                    case (byte)'q': // BINPUT
                        Put(ReadByte());
                        break;
                    case (byte)'r': // LONG_BINPUT
                        Put(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)));
                        break;
                    case (byte)'p': // PUT
                        Put(ParseDecimal(ReadLine(), opcodeOffset));
                        break;
                    case 0x94: // MEMOIZE
                        Put(memo.Count);
                        break;
                    case (byte)'h': // BINGET
                        Get(ReadByte(), opcodeOffset);
                        break;
                    case (byte)'j': // LONG_BINGET
                        Get(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), opcodeOffset);
                        break;
                    case (byte)'g': // GET
                        Get(ParseDecimal(ReadLine(), opcodeOffset), opcodeOffset);
                        break;
                    case (byte)'c': // GLOBAL
                    {
                        string module = ReadLine();
                        string name = ReadLine();
                        Push(ResolveGlobal(module, name));
                        break;
                    }

                    case 0x93: // STACK_GLOBAL
                    {
                        object? name = Pop();
                        object? module = Pop();
                        if (module is not string m || name is not string n)
                        {
                            throw Malformed($"its STACK_GLOBAL at offset {opcodeOffset} has non-string operands");
                        }

                        Push(ResolveGlobal(m, n));
                        break;
                    }

                    case (byte)'i': // INST: names a class inline, like GLOBAL
                    {
                        string module = ReadLine();
                        string name = ReadLine();
                        throw NotAStateDict($"{module}.{name}");
                    }

                    case 0x82:
                    case 0x83:
                    case 0x84: // EXT1/2/4: globals from the copyreg extension registry
                        throw NotAStateDict($"copyreg extension code at offset {opcodeOffset}");
                    case (byte)'R': // REDUCE
                    {
                        object? args = Pop();
                        object? callable = Pop();
                        Push(Reduce(callable, args, opcodeOffset));
                        break;
                    }

                    case (byte)'b': // BUILD
                    {
                        object? state = Pop();
                        Build(Peek(), state, opcodeOffset);
                        break;
                    }

                    case (byte)'Q': // BINPERSID
                        Push(PersistentLoad(Pop(), opcodeOffset));
                        break;
                    default:
                        throw Malformed(string.Format(
                            CultureInfo.InvariantCulture,
                            "it uses pickle opcode 0x{0:x2} ('{1}') at offset {2}, which a torch.save state_dict never contains",
                            op,
                            op is >= 0x20 and < 0x7f ? ((char)op).ToString() : "?",
                            opcodeOffset));
                }
            }
        }

        private object ResolveGlobal(string module, string name)
        {
            switch (module)
            {
                case "collections" when name == "OrderedDict":
                    return PickledGlobal.OrderedDict;
                case "torch._utils" when name == "_rebuild_tensor_v2":
                    return PickledGlobal.RebuildTensorV2;
                case "torch._utils" when name == "_rebuild_tensor":
                    return PickledGlobal.RebuildTensor;
                case "torch._utils" when name == "_rebuild_parameter":
                    return PickledGlobal.RebuildParameter;
                case "torch._utils" when name == "_rebuild_parameter_with_state":
                    return PickledGlobal.RebuildParameterWithState;
                case "torch":
                    torch.ScalarType? dtype = StorageDType(name);
                    if (dtype is { } known)
                    {
                        return new PickledStorageType(name, known);
                    }

                    break;
            }

            throw NotAStateDict($"{module}.{name}");
        }

        /// <summary>The element type of a <c>torch.*Storage</c> class, or null for any other name.</summary>
        internal static torch.ScalarType? StorageDType(string name) => name switch
        {
            "FloatStorage" => torch.ScalarType.Float32,
            "DoubleStorage" => torch.ScalarType.Float64,
            "HalfStorage" => torch.ScalarType.Float16,
            "BFloat16Storage" => torch.ScalarType.BFloat16,
            "LongStorage" => torch.ScalarType.Int64,
            "IntStorage" => torch.ScalarType.Int32,
            "ShortStorage" => torch.ScalarType.Int16,
            "CharStorage" => torch.ScalarType.Int8,
            "ByteStorage" => torch.ScalarType.Byte,
            "BoolStorage" => torch.ScalarType.Bool,
            "UntypedStorage" => torch.ScalarType.Byte,
            _ => null,
        };

        private object Reduce(object? callable, object? args, int offset)
        {
            if (callable is not PickledGlobal global)
            {
                throw Malformed($"its REDUCE at offset {offset} calls a {Describe(callable)}, not one of the allowed globals");
            }

            if (args is not PickledTuple tuple)
            {
                throw Malformed($"its REDUCE at offset {offset} passes a {Describe(args)} as arguments instead of a tuple");
            }

            object?[] a = tuple.Items;
            switch (global.Kind)
            {
                case PickledGlobalKind.OrderedDict:
                    // torch.save writes OrderedDict() and fills it afterwards; TorchSharp.PyBridge writes
                    // OrderedDict(()) for the backward hooks. Nothing else is needed.
                    bool empty = a.Length == 0
                        || (a.Length == 1 && a[0] is PickledTuple { Items.Length: 0 } or PickledList { Items.Count: 0 });
                    if (!empty)
                    {
                        throw Malformed($"its OrderedDict at offset {offset} is built from a non-empty argument; torch.save writes it empty and fills it afterwards");
                    }

                    return new PickledDict(isOrderedDict: true);
                case PickledGlobalKind.RebuildTensorV2:
                    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
                    if (a.Length is < 6 or > 7)
                    {
                        throw Malformed($"its _rebuild_tensor_v2 at offset {offset} has {a.Length} arguments; expected 6 or 7");
                    }

                    if (a[0] is not PickledStorage storage)
                    {
                        throw Malformed($"its _rebuild_tensor_v2 at offset {offset} has a {Describe(a[0])} where the storage belongs");
                    }

                    if (a[5] is not PickledDict)
                    {
                        throw Malformed($"its _rebuild_tensor_v2 at offset {offset} has a {Describe(a[5])} where the backward hooks belong");
                    }

                    return new PickledTensor(
                        storage,
                        ToLong(a[1], "storage offset", offset),
                        ToLongs(a[2], "size", offset),
                        ToLongs(a[3], "stride", offset));
                case PickledGlobalKind.RebuildTensor:
                    // PyTorch before 0.4 (legacy files only): (storage, storage_offset, size, stride).
                    if (a.Length != 4 || a[0] is not PickledStorage oldStorage)
                    {
                        throw Malformed($"its _rebuild_tensor at offset {offset} has {a.Length} arguments or no storage; expected (storage, offset, size, stride)");
                    }

                    return new PickledTensor(oldStorage, ToLong(a[1], "storage offset", offset), ToLongs(a[2], "size", offset), ToLongs(a[3], "stride", offset));
                case PickledGlobalKind.RebuildParameter:
                case PickledGlobalKind.RebuildParameterWithState:
                    // (data, requires_grad, backward_hooks[, state]): a Parameter wrapping a tensor.
                    int expected = global.Kind == PickledGlobalKind.RebuildParameter ? 3 : 4;
                    if (a.Length != expected || a[0] is not PickledTensor data)
                    {
                        throw Malformed($"its {global.Name} at offset {offset} does not wrap a tensor");
                    }

                    return data;
                default:
                    throw Malformed($"its REDUCE at offset {offset} calls {global.Name}, which cannot be called");
            }
        }

        private void Build(object? target, object? state, int offset)
        {
            // nn.Module.state_dict() attaches `_metadata` (per-module versions) to its OrderedDict;
            // pickle restores it with BUILD. We need none of it.
            if (target is PickledDict { IsOrderedDict: true } && state is PickledDict or null)
            {
                return;
            }

            if (target is PickledTensor && state is null or PickledTuple or PickledDict)
            {
                return;
            }

            throw Malformed($"its BUILD at offset {offset} sets the state of a {Describe(target)}; a state_dict only sets the _metadata of its OrderedDict");
        }

        private PickledStorage PersistentLoad(object? pid, int offset)
        {
            // ('storage', storage_type, key, location, numel), as torch.serialization's persistent_id writes it; legacy
            // files add view_metadata, None unless the storage is a view of another (which PyTorch 1.x never writes).
            int length = legacy ? 6 : 5;
            if (pid is not PickledTuple t || t.Items.Length != length || t.Items[0] is not string kind || kind != "storage")
            {
                throw Malformed(legacy
                    ? $"its persistent id at offset {offset} is a {Describe(pid)}; expected ('storage', type, key, location, numel, view_metadata)"
                    : $"its persistent id at offset {offset} is a {Describe(pid)}; expected ('storage', type, key, location, numel)");
            }

            if (legacy && t.Items[5] is not null)
            {
                throw Malformed($"its persistent id at offset {offset} is a view of another storage, which state_dict files saved since PyTorch 0.4 never hold; re-save it with torch.save in a current PyTorch");
            }

            if (t.Items[1] is not PickledStorageType type)
            {
                throw Malformed($"its persistent id at offset {offset} names a {Describe(t.Items[1])} as storage type");
            }

            if (t.Items[2] is not string key || t.Items[3] is not string)
            {
                throw Malformed($"its persistent id at offset {offset} has a non-string key or location");
            }

            long numel = ToLong(t.Items[4], "storage element count", offset);
            return new PickledStorage(key, type.DType, numel);
        }

        private void AddPairs(PickledDict dict, List<object?> items, int offset)
        {
            if (items.Count % 2 != 0)
            {
                throw Malformed($"its dictionary items at offset {offset} have an odd count ({items.Count})");
            }

            for (int i = 0; i < items.Count; i += 2)
            {
                dict.Items.Add(new KeyValuePair<object?, object?>(items[i], items[i + 1]));
            }
        }

        private PickledList ExpectList(object? target, int offset) =>
            target as PickledList ?? throw Malformed($"it appends to a {Describe(target)} at offset {offset}");

        private PickledDict ExpectDict(object? target, int offset) =>
            target as PickledDict ?? throw Malformed($"it sets an item of a {Describe(target)} at offset {offset}");

        private long ToLong(object? value, string what, int offset) => value switch
        {
            long l => l,
            PickledBigInteger => throw Malformed($"its tensor {what} at offset {offset} does not fit in 64 bits (the shape overflows)"),
            _ => throw Malformed($"its tensor {what} at offset {offset} is a {Describe(value)}, not an integer"),
        };

        private long[] ToLongs(object? value, string what, int offset)
        {
            if (value is not PickledTuple tuple)
            {
                throw Malformed($"its tensor {what} at offset {offset} is a {Describe(value)}, not a tuple");
            }

            var result = new long[tuple.Items.Length];
            for (int i = 0; i < result.Length; i++)
            {
                result[i] = ToLong(tuple.Items[i], what, offset);
            }

            return result;
        }

        private void Put(long index)
        {
            if (stack.Count == 0)
            {
                throw Malformed("it memoizes from an empty stack");
            }

            // A pickler memoizes each object once, so more entries than values made means a crafted file.
            if (memo.Count >= pushes && !memo.ContainsKey(index))
            {
                throw Malformed("it memoizes more objects than it makes");
            }

            memo[index] = stack[^1];
        }

        private void Get(long index, int offset)
        {
            if (!memo.TryGetValue(index, out object? value))
            {
                throw Malformed($"it reads memo entry {index} at offset {offset}, which was never stored");
            }

            Push(value);
        }

        private void Push(object? value)
        {
            if (++pushes > MaxItems)
            {
                throw Malformed($"it makes more than {MaxItems} values, far more than any state_dict");
            }

            stack.Add(value);
        }

        private object? Pop()
        {
            int floor = marks.Count > 0 ? marks[^1] : 0;
            if (stack.Count <= floor)
            {
                throw Malformed($"it pops from an empty stack at offset {position - 1}");
            }

            object? value = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return value;
        }

        private object? Peek()
        {
            int floor = marks.Count > 0 ? marks[^1] : 0;
            if (stack.Count <= floor)
            {
                throw Malformed($"it reads from an empty stack at offset {position - 1}");
            }

            return stack[^1];
        }

        private List<object?> PopMark()
        {
            if (marks.Count == 0)
            {
                throw Malformed($"it closes a MARK that was never opened at offset {position - 1}");
            }

            int start = marks[^1];
            marks.RemoveAt(marks.Count - 1);
            List<object?> items = stack.GetRange(start, stack.Count - start);
            stack.RemoveRange(start, stack.Count - start);
            return items;
        }

        private byte ReadByte() => Take(1)[0];

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || count > data.Length - position)
            {
                throw Malformed($"a value at offset {position} needs {count} bytes but only {data.Length - position} remain (the file is truncated or corrupt)");
            }

            var span = new ReadOnlySpan<byte>(data, position, count);
            position += count;
            return span;
        }

        private int ReadLength(long declared)
        {
            if (declared < 0 || declared > data.Length - position)
            {
                throw Malformed($"a value at offset {position} declares {declared} bytes but only {data.Length - position} remain");
            }

            return (int)declared;
        }

        private int ReadLength64(ulong declared) =>
            ReadLength(declared > (ulong)data.Length ? -1L : (long)declared);

        private string ReadUtf8(int count)
        {
            ReadOnlySpan<byte> bytes = Take(count);
            try
            {
                return new UTF8Encoding(false, true).GetString(bytes);
            }
            catch (DecoderFallbackException e)
            {
                throw new WeightsFormatException(
                    $"'{file}' is not a valid PyTorch checkpoint: its pickle holds a string that is not UTF-8 before offset {position}. Re-save the state_dict with torch.save.",
                    e);
            }
        }

        private string ReadLine()
        {
            int end = Array.IndexOf(data, (byte)'\n', position);
            if (end < 0 || end - position > 1024)
            {
                throw Malformed($"a text line at offset {position} is not terminated");
            }

            string line = Encoding.ASCII.GetString(data, position, end - position);
            position = end + 1;
            return line;
        }

        private long ParseDecimal(string text, int offset) =>
            long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value)
                ? value
                : throw Malformed($"its memo index '{text}' at offset {offset} is not a number");

        private object ReadLong(int count)
        {
            ReadOnlySpan<byte> bytes = Take(count);
            if (count == 0)
            {
                return 0L;
            }

            if (count > 8)
            {
                return PickledBigInteger.Instance;
            }

            // Two's complement, little-endian, sign-extended from the last byte.
            long value = (bytes[count - 1] & 0x80) != 0 ? -1L : 0L;
            for (int i = count - 1; i >= 0; i--)
            {
                value = (value << 8) | bytes[i];
            }

            return value;
        }

        private static string Describe(object? value) => value switch
        {
            null => "None",
            bool => "bool",
            long or PickledBigInteger => "int",
            double => "float",
            string => "str",
            byte[] => "bytes",
            PickledTuple => "tuple",
            PickledList => "list",
            PickledDict { IsOrderedDict: true } => "OrderedDict",
            PickledDict => "dict",
            PickledTensor => "tensor",
            PickledStorage => "storage",
            PickledStorageType s => $"torch.{s.Name}",
            PickledGlobal g => g.Name,
            _ => value.GetType().Name,
        };

        /// <summary>Describes a pickled value for messages (the Python type name).</summary>
        internal static string DescribeValue(object? value) => Describe(value);

        private WeightsFormatException Malformed(string what) => new(
            $"'{file}' is not a valid PyTorch state_dict checkpoint: {what}. Re-save it in Python with torch.save(model.state_dict(), path).");

        private WeightsFormatException NotAStateDict(string global) => new(
            $"'{file}' is refused: MedicalTransfer loads state_dict only, and its pickle names the global '{global}', which a state_dict of tensors never needs. "
            + "Loading never runs code from a file. If it holds a whole pickled model (torch.save(model)), save its weights instead: torch.save(model.state_dict(), path). "
            + "If you did not make this file, do not open it with torch.load either: a pickle can run arbitrary code.");
    }

    internal enum PickledGlobalKind
    {
        OrderedDict,
        RebuildTensorV2,
        RebuildTensor,
        RebuildParameter,
        RebuildParameterWithState,
    }

    /// <summary>One of the few globals the restricted unpickler resolves.</summary>
    internal sealed class PickledGlobal
    {
        public static readonly PickledGlobal OrderedDict = new(PickledGlobalKind.OrderedDict, "collections.OrderedDict");
        public static readonly PickledGlobal RebuildTensorV2 = new(PickledGlobalKind.RebuildTensorV2, "torch._utils._rebuild_tensor_v2");
        public static readonly PickledGlobal RebuildTensor = new(PickledGlobalKind.RebuildTensor, "torch._utils._rebuild_tensor");
        public static readonly PickledGlobal RebuildParameter = new(PickledGlobalKind.RebuildParameter, "torch._utils._rebuild_parameter");
        public static readonly PickledGlobal RebuildParameterWithState = new(PickledGlobalKind.RebuildParameterWithState, "torch._utils._rebuild_parameter_with_state");

        private PickledGlobal(PickledGlobalKind kind, string name)
        {
            Kind = kind;
            Name = name;
        }

        public PickledGlobalKind Kind { get; }

        public string Name { get; }
    }

    /// <summary>A <c>torch.*Storage</c> class named in a persistent id.</summary>
    internal sealed record PickledStorageType(string Name, torch.ScalarType DType);

    /// <summary>A storage reference: the zip entry <c>data/Key</c> holding <see cref="Count"/> elements.</summary>
    internal sealed record PickledStorage(string Key, torch.ScalarType DType, long Count);

    /// <summary>A tensor to rebuild: a strided view of a storage. Nothing is allocated until it is validated.</summary>
    internal sealed record PickledTensor(PickledStorage Storage, long Offset, long[] Size, long[] Stride);

    internal sealed record PickledTuple(object?[] Items);

    internal sealed class PickledList
    {
        public List<object?> Items { get; } = new();
    }

    /// <summary>A dict or OrderedDict, as pairs in insertion order (keys are not hashed: they may be any value).</summary>
    internal sealed class PickledDict
    {
        public PickledDict(bool isOrderedDict) => IsOrderedDict = isOrderedDict;

        public bool IsOrderedDict { get; }

        public List<KeyValuePair<object?, object?>> Items { get; } = new();
    }

    /// <summary>An integer too large for 64 bits; its value is never needed.</summary>
    internal sealed class PickledBigInteger
    {
        public static readonly PickledBigInteger Instance = new();

        private PickledBigInteger()
        {
        }
    }
}
