/**
 * greet.v1.GreetService, described at runtime: the "other Connect service" the
 * interceptor tests put behind `createAuthInterceptor` (not part of Tessera's contract).
 */
import { create, createFileRegistry, type DescService } from "@bufbuild/protobuf";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";

/**
 * Builds the descriptor: `Greet` and `Health`, both `(GreetRequest{name}) returns
 * (GreetResponse{greeting, user_id, kind, via, account_id})`.
 */
export function greetService(): DescService {
  const str = (name: string, number: number) => ({
    name,
    number,
    type: FieldDescriptorProto_Type.STRING,
    label: FieldDescriptorProto_Label.OPTIONAL,
    jsonName: name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()),
  });
  const file = create(FileDescriptorProtoSchema, {
    name: "greet/v1/greet.proto",
    package: "greet.v1",
    syntax: "proto3",
    messageType: [
      { name: "GreetRequest", field: [str("name", 1)] },
      { name: "GreetResponse", field: [str("greeting", 1), str("user_id", 2), str("kind", 3), str("via", 4), str("account_id", 5)] },
    ],
    service: [
      {
        name: "GreetService",
        method: [
          { name: "Greet", inputType: ".greet.v1.GreetRequest", outputType: ".greet.v1.GreetResponse" },
          { name: "Health", inputType: ".greet.v1.GreetRequest", outputType: ".greet.v1.GreetResponse" },
        ],
      },
    ],
  });
  return createFileRegistry(file, () => undefined).getService("greet.v1.GreetService")!;
}
